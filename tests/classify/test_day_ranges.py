"""Which days classification reads together: runs of consecutive days, bounded in days and in
bytes of requests."""

from __future__ import annotations

from datetime import date, timedelta

from pullstats.classify.runs import day_ranges

D = date(2026, 10, 1)


def _day(n: int) -> date:
    return D + timedelta(days=n)


def test_runs_are_consecutive_and_at_most_span_days() -> None:
    days = [_day(n) for n in (0, 1, 2, 3, 4, 6, 7)]  # a gap after day 4
    assert day_ranges(days, span=3) == [(_day(0), _day(2)), (_day(3), _day(4)), (_day(6), _day(7))]
    assert day_ranges(reversed(days), span=7) == [(_day(0), _day(4)), (_day(6), _day(7))]
    assert day_ranges([]) == []


def test_runs_stop_before_they_hold_too_many_bytes() -> None:
    days = [_day(n) for n in range(6)]
    sizes = {_day(0): 40, _day(1): 50, _day(2): 10, _day(3): 250, _day(4): 5, _day(5): 5}
    # 40 + 50 + 10 fit in 100; day 3 alone is more than 100 and still a run of its own
    assert day_ranges(days, span=7, sizes=sizes, max_bytes=100) == [
        (_day(0), _day(2)),
        (_day(3), _day(3)),
        (_day(4), _day(5)),
    ]
    # a day the sizes do not know counts nothing; the span still applies
    assert day_ranges(days, span=2, sizes={}, max_bytes=100) == [
        (_day(0), _day(1)),
        (_day(2), _day(3)),
        (_day(4), _day(5)),
    ]
