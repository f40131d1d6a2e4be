"""A time's UTC offset: one rule for notifications and access logs (docs/access-logs.md,
``invalid_time``; docs/operations.md, the ingest endpoint's ``invalid timestamp``).

No clock is set further from UTC than ±14:00 (Kiribati, +14:00). The notifications' check
compared the hours only, so ``+14:30`` (and ``+13:99``, which datetime reads as +14:39) passed,
while the docs say an offset past ±14 hours is refused; access logs let ``+1459`` through the
same way.
"""

from __future__ import annotations

from collections import Counter

import pytest

from pullstats.ingest.errors import UnparseableRequest
from pullstats.ingest.notifications import parse_timestamp
from tests.ingest.access_log_parsing import GOOD, at, parse_bytes, rows

ALLOWED = ["+14:00", "-14:00", "+13:59", "+05:45", "-09:30"]
REFUSED = ["+14:01", "+14:30", "+14:59", "-14:01", "-14:59", "+13:60", "+13:99", "+00:75"]


@pytest.mark.parametrize("zone", REFUSED)
def test_a_notification_time_past_any_clocks_offset_is_refused(zone: str) -> None:
    with pytest.raises(UnparseableRequest, match="invalid timestamp"):
        parse_timestamp(f"2026-10-05T12:00:00{zone}")


@pytest.mark.parametrize("zone", ALLOWED)
def test_a_notification_time_up_to_fourteen_hours_off_is_read(zone: str) -> None:
    assert parse_timestamp(f"2026-10-05T12:00:00{zone}") == at(f"2026-10-05T12:00:00{zone}")


def test_an_access_log_applies_the_same_rule() -> None:
    def line(zone: str) -> str:
        return f"192.0.2.7 - - [05/Oct/2026:12:00:00 {zone.replace(':', '')}] {GOOD}\n"

    parsed = parse_bytes("".join(line(zone) for zone in [*ALLOWED, *REFUSED]).encode())
    assert [row[0] for row in rows(parsed)] == [at(f"2026-10-05T12:00:00{z}") for z in ALLOWED]
    assert parsed.skipped == Counter(invalid_time=len(REFUSED))
