"""Times as pullstats stores them: microseconds since the Unix epoch, UTC.

Every stage counts request and arrival times this way (spool lines, lake columns, the
accepted window); ``ts // DAY_US`` is a time's UTC day. Pure: the only helpers of their kind.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Microseconds in a day: ``ts // DAY_US`` is a request's UTC day, counted from 1970-01-01.
DAY_US = 86_400_000_000


def micros(instant: datetime) -> int:
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def micros_of(span: timedelta) -> int:
    """The length of ``span`` in microseconds."""
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds


def day_micros(day: date) -> int:
    """``day``'s UTC midnight in microseconds since the epoch."""
    return (day - _EPOCH.date()).days * DAY_US


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def now_micros() -> int:
    return micros(datetime.now(UTC))


def utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC time: SQLite hands back naive datetimes, and every time
    pullstats stores is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
