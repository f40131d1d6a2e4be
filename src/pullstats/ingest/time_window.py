"""Which request times pullstats accepts: from 2000-01-01 to a little past the server clock.

A time outside this window is a broken clock or a forged event, not a pull: every ingest path
rejects it with its own reason, and ``process`` sets aside what reached the spool or the lake
before the window was checked. The window also keeps every later stage inside the calendar
(a day before 0001-01-01 or after 9999-12-31 has no day before or after it to classify with).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pullstats.ingest.errors import TimestampOutOfRange
from pullstats.timestamps import DAY_US, day_micros, micros, micros_of

#: The first day a request may fall on: older times are a clock that was never set.
EARLIEST_DAY = date(2000, 1, 1)
EARLIEST_US = day_micros(EARLIEST_DAY)
#: The longest ``PULLSTATS_MAX_CLOCK_SKEW`` allowed: the window must end well inside the calendar.
MAX_SKEW = timedelta(days=366)
#: Why a request outside the window is rejected or set aside (one reason on every path).
OUT_OF_WINDOW = TimestampOutOfRange.reason


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Request times accepted, in microseconds since the epoch, both ends included."""

    earliest_us: int
    latest_us: int

    @classmethod
    def at(cls, now_us: int, max_skew: timedelta) -> TimeWindow:
        """The window of a server whose clock reads ``now_us``, allowing ``max_skew`` ahead."""
        return cls(EARLIEST_US, now_us + micros_of(max_skew))

    @classmethod
    def now(cls, max_skew: timedelta) -> TimeWindow:
        return cls.at(micros(datetime.now(UTC)), max_skew)

    def holds(self, ts_us: int) -> bool:
        return self.earliest_us <= ts_us <= self.latest_us

    def check(self, ts_us: int, text: str) -> int:
        """``ts_us`` if the window holds it, else :class:`TimestampOutOfRange` quoting ``text``."""
        if self.earliest_us <= ts_us <= self.latest_us:
            return ts_us
        raise TimestampOutOfRange(f"timestamp {text[:64]!r} is outside {self.describe()}")

    def holds_day(self, day: date) -> bool:
        """Whether any instant of ``day`` (UTC) lies in the window."""
        start = day_micros(day)
        return start + DAY_US > self.earliest_us and start <= self.latest_us

    def describe(self) -> str:
        """The window as a message shows it."""
        latest = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=self.latest_us)
        return (
            f"{EARLIEST_DAY.isoformat()}T00:00:00Z to "
            f"{latest.strftime('%Y-%m-%dT%H:%M:%SZ')} (PULLSTATS_MAX_CLOCK_SKEW past the "
            "server clock)"
        )
