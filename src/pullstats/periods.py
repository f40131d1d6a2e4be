"""Periods: ISO weeks and calendar months in UTC, their bounds, names, windows and closing.

Every other module asks this one what a period is; nothing else does date arithmetic on periods.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

__all__ = [
    "Period",
    "PeriodKind",
    "end_of_day",
    "format_instant",
    "last_complete_months",
    "period_of",
    "periods_between",
]


class PeriodKind(enum.StrEnum):
    WEEK = "week"
    MONTH = "month"

    @property
    def timespan(self) -> str:
        """The DVP API's name for this kind (``weeks`` / ``months``)."""
        return f"{self.value}s"


@dataclass(frozen=True, order=True)
class Period:
    """One ISO week or one calendar month; ``start`` is its first day (a Monday for weeks)."""

    kind: PeriodKind
    start: date

    @classmethod
    def week(cls, iso_year: int, week: int) -> Period:
        """ISO week ``week`` of ``iso_year``; ValueError if the year has no such week."""
        return cls(PeriodKind.WEEK, date.fromisocalendar(iso_year, week, 1))

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(PeriodKind.MONTH, date(year, month, 1))

    @property
    def end(self) -> date:
        """The last day of the period (inclusive)."""
        return self.next_start - timedelta(days=1)

    @property
    def next_start(self) -> date:
        if self.kind is PeriodKind.WEEK:
            return self.start + timedelta(days=7)
        year, month = divmod(self.start.month, 12)
        return date(self.start.year + year, month + 1, 1)

    @property
    def year(self) -> int:
        """The ISO year for a week, the calendar year for a month."""
        if self.kind is PeriodKind.WEEK:
            return self.start.isocalendar().year
        return self.start.year

    @property
    def number(self) -> int:
        """The ISO week number or the month number."""
        if self.kind is PeriodKind.WEEK:
            return self.start.isocalendar().week
        return self.start.month

    @property
    def label(self) -> str:
        """``2026-W41`` or ``2026-10``, as used in export file names."""
        if self.kind is PeriodKind.WEEK:
            return f"{self.year}-W{self.number:02d}"
        return f"{self.year}-{self.number:02d}"

    @property
    def start_instant(self) -> datetime:
        return datetime.combine(self.start, datetime.min.time(), UTC)

    @property
    def end_instant(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.next_start, datetime.min.time(), UTC)

    @property
    def start_text(self) -> str:
        return format_instant(self.start_instant)

    @property
    def end_text(self) -> str:
        """The last second of the period, as the API and the CSVs write it."""
        return format_instant(self.end_instant - timedelta(seconds=1))

    def following(self) -> Period:
        return Period(self.kind, self.next_start)

    def preceding(self) -> Period:
        return period_of(self.kind, self.start - timedelta(days=1))

    def is_closed(self, now: datetime, grace: timedelta) -> bool:
        return now >= self.end_instant + grace

    def contains(self, day: date) -> bool:
        return self.start <= day < self.next_start


def format_instant(instant: datetime) -> str:
    utc = instant.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"  # %Y leaves years before 1000 unpadded


def period_of(kind: PeriodKind, day: date) -> Period:
    if kind is PeriodKind.WEEK:
        return Period(kind, day - timedelta(days=day.weekday()))
    return Period(kind, day.replace(day=1))


def periods_between(kind: PeriodKind, first: date, last: date) -> list[Period]:
    """Every period of ``kind`` that holds a day in ``first..last`` (inclusive), in order."""
    periods: list[Period] = []
    if first > last:
        return periods
    period = period_of(kind, first)
    while period.start <= last:
        periods.append(period)
        period = period.following()
    return periods


def last_complete_months(today: date, count: int) -> tuple[date, date]:
    """The first and last day of the ``count`` complete calendar months before ``today``'s."""
    current = period_of(PeriodKind.MONTH, today)
    first = current.start
    for _ in range(count):
        first = period_of(PeriodKind.MONTH, first - timedelta(days=1)).start
    return first, current.start - timedelta(days=1)


def end_of_day(day: date) -> datetime:
    """The first instant after ``day`` (what ``--through DAY`` takes as the present)."""
    return datetime.combine(day + timedelta(days=1), time.min, UTC)
