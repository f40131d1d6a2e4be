"""Tests for ``pullstats.periods``: ISO weeks and calendar months in UTC (docs/data-definitions.md).

Time code is tested across year ends and month ends, where it usually breaks: ISO week 1 that
starts in December, week 53 of a 53-week year (and its absence in a 52-week year), February in
leap and common years.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pullstats.periods import (
    Period,
    PeriodKind,
    format_instant,
    last_complete_months,
    period_of,
    periods_between,
)

WEEK = PeriodKind.WEEK
MONTH = PeriodKind.MONTH
GRACE = timedelta(hours=2)
ONE_MICROSECOND = timedelta(microseconds=1)

# Both ends leave room for the period after the last one (``next_start``) to exist.
dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 11, 30))
kinds = st.sampled_from(list(PeriodKind))


# --- ISO weeks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iso_year", "week", "monday", "sunday"),
    [
        (2024, 1, date(2024, 1, 1), date(2024, 1, 7)),  # week 1 starts on 1 January
        (2025, 1, date(2024, 12, 30), date(2025, 1, 5)),  # week 1 starts in December
        (2026, 1, date(2025, 12, 29), date(2026, 1, 4)),
        (2021, 1, date(2021, 1, 4), date(2021, 1, 10)),  # 1-3 January belong to 2020-W53
        (2020, 53, date(2020, 12, 28), date(2021, 1, 3)),
        (2026, 53, date(2026, 12, 28), date(2027, 1, 3)),  # 2026 starts on a Thursday
        (2025, 52, date(2025, 12, 22), date(2025, 12, 28)),
        (2026, 41, date(2026, 10, 5), date(2026, 10, 11)),
    ],
)
def test_week_bounds_across_new_year(iso_year: int, week: int, monday: date, sunday: date) -> None:
    period = Period.week(iso_year, week)
    assert period.kind is WEEK
    assert period.start == monday
    assert period.start.weekday() == 0
    assert period.end == sunday
    assert period.next_start == sunday + timedelta(days=1)
    assert period.year == iso_year
    assert period.number == week


@pytest.mark.parametrize(("iso_year", "weeks"), [(2020, 53), (2024, 52), (2025, 52), (2026, 53)])
def test_last_week_of_the_year(iso_year: int, weeks: int) -> None:
    last = Period.week(iso_year, weeks)
    assert last.following() == Period.week(iso_year + 1, 1)


@pytest.mark.parametrize(("iso_year", "week"), [(2025, 53), (2024, 53), (2026, 54), (2026, 0)])
def test_week_that_does_not_exist_raises(iso_year: int, week: int) -> None:
    with pytest.raises(ValueError):
        Period.week(iso_year, week)


def test_week_text() -> None:
    period = Period.week(2026, 41)
    assert period.label == "2026-W41"
    assert period.start_text == "2026-10-05T00:00:00Z"
    assert period.end_text == "2026-10-11T23:59:59Z"
    assert period.start_instant == datetime(2026, 10, 5, tzinfo=UTC)
    assert period.end_instant == datetime(2026, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("iso_year", "week", "label"),
    [(2026, 1, "2026-W01"), (2025, 1, "2025-W01"), (2020, 53, "2020-W53"), (2026, 9, "2026-W09")],
)
def test_week_label_is_zero_padded_and_uses_the_iso_year(
    iso_year: int, week: int, label: str
) -> None:
    assert Period.week(iso_year, week).label == label


def test_week_year_is_the_iso_year_not_the_calendar_year() -> None:
    # Monday 2024-12-30 is in calendar year 2024 but opens ISO week 2025-W01.
    week = period_of(WEEK, date(2024, 12, 31))
    assert week.start == date(2024, 12, 30)
    assert week.year == 2025
    assert week.label == "2025-W01"
    # 1 January 2021 (a Friday) belongs to the last week of ISO year 2020.
    week = period_of(WEEK, date(2021, 1, 1))
    assert week.year == 2020
    assert week.label == "2020-W53"
    assert week.start_text == "2020-12-28T00:00:00Z"
    assert week.end_text == "2021-01-03T23:59:59Z"


# --- months ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "month", "days", "end_text"),
    [
        (2024, 2, 29, "2024-02-29T23:59:59Z"),  # leap year
        (2025, 2, 28, "2025-02-28T23:59:59Z"),
        (2100, 2, 28, "2100-02-28T23:59:59Z"),  # divisible by 100: not a leap year
        (2000, 2, 29, "2000-02-29T23:59:59Z"),  # divisible by 400: a leap year
        (2026, 4, 30, "2026-04-30T23:59:59Z"),
        (2026, 10, 31, "2026-10-31T23:59:59Z"),
        (2026, 12, 31, "2026-12-31T23:59:59Z"),  # the next month is in the next year
        (2026, 1, 31, "2026-01-31T23:59:59Z"),
    ],
)
def test_month_lengths(year: int, month: int, days: int, end_text: str) -> None:
    period = Period.month(year, month)
    assert period.kind is MONTH
    assert period.start == date(year, month, 1)
    assert period.end == date(year, month, days)
    assert period.end_text == end_text
    assert period.start_text == f"{year:04d}-{month:02d}-01T00:00:00Z"
    assert (period.next_start - period.start).days == days


def test_december_is_followed_by_january_of_the_next_year() -> None:
    december = Period.month(2026, 12)
    assert december.next_start == date(2027, 1, 1)
    assert december.following() == Period.month(2027, 1)
    assert december.end_instant == datetime(2027, 1, 1, tzinfo=UTC)


def test_month_text_and_year() -> None:
    period = Period.month(2026, 10)
    assert period.label == "2026-10"
    assert period.year == 2026
    assert period.number == 10
    assert Period.month(2026, 1).label == "2026-01"
    # A month's year is the calendar year even where the ISO year differs.
    assert Period.month(2024, 12).year == 2024
    assert period_of(MONTH, date(2024, 12, 31)).year == 2024


@pytest.mark.parametrize("month", [0, 13])
def test_month_that_does_not_exist_raises(month: int) -> None:
    with pytest.raises(ValueError):
        Period.month(2026, month)


def test_timespan_names_match_the_api() -> None:
    assert WEEK.timespan == "weeks"
    assert MONTH.timespan == "months"


def test_format_instant_converts_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_instant(datetime(2026, 1, 1, 1, 30, tzinfo=plus_two)) == "2025-12-31T23:30:00Z"
    assert format_instant(datetime(2026, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC)) == (
        "2026-01-01T00:00:00Z"
    )


# --- closing --------------------------------------------------------------------------------


@pytest.mark.parametrize("period", [Period.week(2026, 41), Period.month(2026, 2)])
def test_is_closed_exactly_at_end_plus_grace(period: Period) -> None:
    boundary = period.end_instant + GRACE
    assert period.is_closed(boundary, GRACE)
    assert not period.is_closed(boundary - ONE_MICROSECOND, GRACE)
    assert period.is_closed(boundary + ONE_MICROSECOND, GRACE)


def test_is_closed_at_the_last_second_of_the_period_is_false() -> None:
    period = Period.week(2026, 41)
    last_second = datetime(2026, 10, 11, 23, 59, 59, tzinfo=UTC)
    assert not period.is_closed(last_second, GRACE)
    assert not period.is_closed(last_second, timedelta(0))
    assert period.is_closed(datetime(2026, 10, 12, tzinfo=UTC), timedelta(0))


def test_is_closed_compares_instants_not_wall_clocks() -> None:
    period = Period.week(2026, 41)  # closes at 2026-10-12T02:00:00Z
    plus_two = timezone(timedelta(hours=2))
    assert period.is_closed(datetime(2026, 10, 12, 4, 0, tzinfo=plus_two), GRACE)
    assert not period.is_closed(datetime(2026, 10, 12, 3, 59, 59, tzinfo=plus_two), GRACE)


# --- period_of, periods_between, last_complete_months ------------------------------------------


@pytest.mark.parametrize(
    ("kind", "day", "start"),
    [
        (WEEK, date(2026, 10, 5), date(2026, 10, 5)),  # Monday
        (WEEK, date(2026, 10, 11), date(2026, 10, 5)),  # Sunday
        (WEEK, date(2026, 1, 1), date(2025, 12, 29)),
        (MONTH, date(2024, 2, 29), date(2024, 2, 1)),
        (MONTH, date(2026, 12, 31), date(2026, 12, 1)),
        (MONTH, date(2026, 1, 1), date(2026, 1, 1)),
    ],
)
def test_period_of(kind: PeriodKind, day: date, start: date) -> None:
    assert period_of(kind, day) == Period(kind, start)


def test_periods_between_weeks_across_new_year() -> None:
    periods = periods_between(WEEK, date(2025, 12, 24), date(2026, 1, 12))
    assert [p.label for p in periods] == ["2025-W52", "2026-W01", "2026-W02", "2026-W03"]


def test_periods_between_one_day_gives_its_period() -> None:
    assert periods_between(WEEK, date(2025, 12, 31), date(2025, 12, 31)) == [Period.week(2026, 1)]
    assert periods_between(MONTH, date(2024, 2, 29), date(2024, 2, 29)) == [Period.month(2024, 2)]


def test_periods_between_months_includes_partly_covered_ends() -> None:
    periods = periods_between(MONTH, date(2024, 1, 31), date(2024, 3, 1))
    assert [p.label for p in periods] == ["2024-01", "2024-02", "2024-03"]
    periods = periods_between(MONTH, date(2025, 11, 15), date(2026, 2, 1))
    assert [p.label for p in periods] == ["2025-11", "2025-12", "2026-01", "2026-02"]


@pytest.mark.parametrize(
    ("kind", "first", "last"),
    [
        (MONTH, date(2026, 3, 1), date(2026, 2, 28)),  # adjacent periods
        (MONTH, date(2026, 1, 20), date(2026, 1, 10)),  # reversed inside one month
        (WEEK, date(2026, 10, 9), date(2026, 10, 6)),  # reversed inside one week
    ],
)
def test_periods_between_an_empty_range_is_empty(kind: PeriodKind, first: date, last: date) -> None:
    # "Every period that holds a day in first..last": an empty range holds no day.
    assert periods_between(kind, first, last) == []


@pytest.mark.parametrize(
    ("today", "count", "first", "last"),
    [
        (date(2026, 1, 15), 2, date(2025, 11, 1), date(2025, 12, 31)),
        (date(2026, 1, 1), 1, date(2025, 12, 1), date(2025, 12, 31)),
        (date(2026, 1, 31), 12, date(2025, 1, 1), date(2025, 12, 31)),
        (date(2026, 3, 31), 1, date(2026, 2, 1), date(2026, 2, 28)),
        (date(2024, 3, 1), 12, date(2023, 3, 1), date(2024, 2, 29)),
        (date(2026, 10, 20), 3, date(2026, 7, 1), date(2026, 9, 30)),
        (date(2026, 10, 20), 6, date(2026, 4, 1), date(2026, 9, 30)),
    ],
)
def test_last_complete_months(today: date, count: int, first: date, last: date) -> None:
    assert last_complete_months(today, count) == (first, last)


# --- properties -----------------------------------------------------------------------------


@given(kind=kinds, day=dates)
def test_period_of_contains_the_day(kind: PeriodKind, day: date) -> None:
    period = period_of(kind, day)
    assert period.kind is kind
    assert period.contains(day)
    assert period.start <= day <= period.end
    assert not period.contains(period.next_start)
    if period.start > date.min:
        assert not period.contains(period.start - timedelta(days=1))


@given(kind=kinds, day=dates)
def test_consecutive_periods_tile_time(kind: PeriodKind, day: date) -> None:
    period = period_of(kind, day)
    following = period.following()
    # no gap, no overlap: the day after the last day is the first day of the next period
    assert following.start == period.next_start == period.end + timedelta(days=1)
    assert following.start_instant == period.end_instant
    assert period_of(kind, period.end) == period
    assert period_of(kind, period.next_start) == following
    assert period < following
    if period.start > date.min:
        previous = period_of(kind, period.start - timedelta(days=1))
        assert previous.following() == period


@given(day=st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 11, 30)))
def test_period_names_round_trip(day: date) -> None:
    week = period_of(WEEK, day)
    iso = day.isocalendar()
    assert (week.year, week.number) == (iso.year, iso.week)
    assert Period.week(week.year, week.number) == week
    assert week.label == f"{iso.year:04d}-W{iso.week:02d}"
    assert (week.end - week.start).days == 6
    month = period_of(MONTH, day)
    assert Period.month(month.year, month.number) == month
    assert month.label == f"{day.year:04d}-{day.month:02d}"
    assert 28 <= (month.next_start - month.start).days <= 31


@given(
    kind=kinds,
    first=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)),
    span=st.integers(min_value=0, max_value=800),
)
def test_periods_between_covers_the_range_in_order(
    kind: PeriodKind, first: date, span: int
) -> None:
    last = first + timedelta(days=span)
    periods = periods_between(kind, first, last)
    assert periods[0].contains(first)
    assert periods[-1].contains(last)
    for earlier, later in pairwise(periods):
        assert earlier.following() == later
