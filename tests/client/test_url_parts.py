"""The parts of a request the client writes: ``since`` as the first day it names."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from pullstats.client.url_parts import since_day

WEST = timezone(timedelta(hours=-5))


@pytest.mark.parametrize(
    ("since", "day"),
    [
        ("2026-10", date(2026, 10, 1)),
        (date(2026, 10, 9), date(2026, 10, 9)),
        (None, None),
        # a datetime is a date too: its day in UTC, the periods' zone (a naive one is UTC)
        (datetime(2026, 10, 9, 23, 30), date(2026, 10, 9)),
        (datetime(2026, 10, 9, 23, 30, tzinfo=UTC), date(2026, 10, 9)),
        (datetime(2026, 10, 9, 20, 0, tzinfo=WEST), date(2026, 10, 10)),
    ],
)
def test_since_is_the_first_day_it_names(since: str | date | None, day: date | None) -> None:
    found = since_day(since)
    assert found == day and type(found) is type(day)


def test_since_in_another_form_is_refused() -> None:
    with pytest.raises(ValueError, match="since must be YYYY-MM, not '2026-13'"):
        since_day("2026-13")
