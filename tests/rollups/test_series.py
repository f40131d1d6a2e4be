"""Tests for the pull-series window (``rollups.series.window``), as docs/api.md describes it.

``last-N-months`` is the N complete calendar months before the current one; with
``timespan=weeks`` it is the ISO weeks whose Monday falls in that window and that have ended.
The current, incomplete period is added only with ``current=True``, marked partial.
What a query with nothing set returns is checked through ``namespace_series`` on a real
catalog.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pullstats.db.models import PullRollup
from pullstats.namespace_scope import NamespaceScope
from pullstats.periods import Period, PeriodKind, last_complete_months
from pullstats.rollups.series import WindowPeriod, namespace_series, window
from pullstats.rollups.series_query import RelativePeriod, SeriesQuery, Timespan
from pullstats.runtime import Runtime

MONTHS = Timespan.MONTHS
WEEKS = Timespan.WEEKS


def labels(rows: list[WindowPeriod]) -> list[str]:
    return [row.period.label for row in rows]


def query(timespan: Timespan = MONTHS, months: int = 12, *, current: bool = False) -> SeriesQuery:
    return SeriesQuery(
        timespan=timespan, period=RelativePeriod(f"last-{months}-months"), current=current
    )


#: The months each ``period`` value of the contract covers, written out by hand.
MONTHS_OF = {"last-2-months": 2, "last-3-months": 3, "last-6-months": 6, "last-12-months": 12}


def test_a_query_with_nothing_set_is_twelve_monthly_namespace_rows(runtime: Runtime) -> None:
    """The API's defaults: timespan=months, period=last-12-months, group=namespace, no current
    period: on 20 October 2026, one row per month from October 2025 to September 2026, with
    the namespace's counts and no ``repo`` or ``partial``."""
    with runtime.sessions.begin() as session:
        for level, repository, reference in (("namespace", "", ""), ("repository", "web", "")):
            session.add(
                PullRollup(
                    period_kind="month", period_start=date(2026, 3, 1), level=level,
                    namespace="acme", repository=repository, reference=reference,
                    pull_by_tag=4, pull_by_digest=1, version_check=2, unique_ip_count=3,
                )
            )  # fmt: skip
    with runtime.sessions() as session:
        rows = namespace_series(session, NamespaceScope("acme"), SeriesQuery(), date(2026, 10, 20))
    months = [f"2025-{m:02d}" for m in (10, 11, 12)] + [f"2026-{m:02d}" for m in range(1, 10)]
    assert [row["start"][:7] for row in rows] == months
    assert {tuple(sorted(row)) for row in rows} == {
        ("end", "ipCount", "namespace", "pullCount", "start")
    }
    march = rows[months.index("2026-03")]
    assert (march["pullCount"], march["ipCount"]) == (5, 3)  # version checks are not pulls
    assert sum(row["pullCount"] for row in rows) == 5  # every other month zero-filled


# --- months ---------------------------------------------------------------------------------


def test_last_12_months_are_the_complete_months_before_this_one_oldest_first() -> None:
    rows = window(SeriesQuery(), date(2026, 1, 15))
    assert labels(rows) == [f"2025-{month:02d}" for month in range(1, 13)]
    assert not any(row.partial for row in rows)
    assert rows[0].period.start_text == "2025-01-01T00:00:00Z"
    assert rows[-1].period.end_text == "2025-12-31T23:59:59Z"


@pytest.mark.parametrize(
    ("months", "expected"),
    [
        (2, ["2026-08", "2026-09"]),
        (3, ["2026-07", "2026-08", "2026-09"]),
        (6, ["2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]),
        (12, [f"2025-{m:02d}" for m in range(10, 13)] + [f"2026-{m:02d}" for m in range(1, 10)]),
    ],
)
def test_month_windows(months: int, expected: list[str]) -> None:
    assert labels(window(query(MONTHS, months), date(2026, 10, 20))) == expected


def test_months_on_the_first_day_of_a_month() -> None:
    # The current month has just begun; the month that ended yesterday is complete.
    rows = window(query(MONTHS, 2), date(2026, 2, 1))
    assert labels(rows) == ["2025-12", "2026-01"]


def test_months_on_the_last_day_of_a_month() -> None:
    rows = window(query(MONTHS, 2), date(2026, 1, 31))
    assert labels(rows) == ["2025-11", "2025-12"]


def test_months_window_across_a_leap_february() -> None:
    rows = window(query(MONTHS, 2), date(2024, 3, 1))
    assert labels(rows) == ["2024-01", "2024-02"]
    assert rows[-1].period.end_text == "2024-02-29T23:59:59Z"


def test_current_month_is_appended_as_partial() -> None:
    rows = window(query(MONTHS, 2, current=True), date(2026, 1, 15))
    assert labels(rows) == ["2025-11", "2025-12", "2026-01"]
    assert [row.partial for row in rows] == [False, False, True]
    assert rows[-1].period == Period.month(2026, 1)


def test_current_month_on_its_first_day_is_partial() -> None:
    rows = window(query(MONTHS, 3, current=True), date(2026, 3, 1))
    assert labels(rows) == ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert rows[-1].partial


# --- weeks ----------------------------------------------------------------------------------


def test_weeks_whose_monday_falls_in_the_window() -> None:
    # Window 2025-11-01..2025-12-31. Monday 27 Oct (week of 1 Nov) is outside it; Monday 29 Dec
    # is inside, and that week (ending Sunday 4 Jan) has ended by 15 Jan.
    rows = window(query(WEEKS, 2), date(2026, 1, 15))
    assert labels(rows) == [
        "2025-W45",
        "2025-W46",
        "2025-W47",
        "2025-W48",
        "2025-W49",
        "2025-W50",
        "2025-W51",
        "2025-W52",
        "2026-W01",
    ]
    assert rows[0].period.start == date(2025, 11, 3)
    assert rows[-1].period.start == date(2025, 12, 29)
    assert rows[-1].period.end_text == "2026-01-04T23:59:59Z"
    assert not any(row.partial for row in rows)


def test_a_week_that_has_not_ended_is_left_out() -> None:
    # On Friday 2 Jan the week of Monday 29 Dec is still running.
    rows = window(query(WEEKS, 2), date(2026, 1, 2))
    assert labels(rows)[-1] == "2025-W52"
    assert len(rows) == 8


def test_a_week_is_complete_on_the_monday_after_it() -> None:
    rows = window(query(WEEKS, 2), date(2026, 1, 5))
    assert labels(rows)[-1] == "2026-W01"
    rows = window(query(WEEKS, 2), date(2026, 1, 4))  # its own Sunday
    assert labels(rows)[-1] == "2025-W52"


def test_current_week_is_appended_as_partial() -> None:
    rows = window(query(WEEKS, 2, current=True), date(2026, 1, 15))
    assert labels(rows)[-2:] == ["2026-W01", "2026-W03"]  # W02's Monday is outside the window
    assert [row.partial for row in rows[-2:]] == [False, True]
    assert rows[-1].period == Period.week(2026, 3)


def test_current_week_that_started_in_the_window_is_partial_not_complete() -> None:
    rows = window(query(WEEKS, 2, current=True), date(2026, 1, 2))
    assert labels(rows)[-2:] == ["2025-W52", "2026-W01"]
    assert [row.partial for row in rows[-2:]] == [False, True]
    assert labels(rows).count("2026-W01") == 1


def test_weeks_in_a_53_week_year() -> None:
    rows = window(query(WEEKS, 2), date(2027, 1, 10))  # window 2026-11-01..2026-12-31
    assert labels(rows)[0] == "2026-W45"  # Monday 2 November
    assert labels(rows)[-1] == "2026-W53"  # Monday 28 December, ended Sunday 3 January


@pytest.mark.parametrize(("months", "count"), [(2, 8), (3, 13), (6, 26), (12, 52)])
def test_week_windows(months: int, count: int) -> None:
    # today Monday 2026-03-02: window ends Saturday 2026-02-28; the week of Monday 23 Feb ended
    # on Sunday 1 March.
    rows = window(query(WEEKS, months), date(2026, 3, 2))
    assert len(rows) == count
    assert rows[-1].period.start == date(2026, 2, 23)


# --- properties -----------------------------------------------------------------------------

todays = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
relatives = st.sampled_from(list(RelativePeriod))


@given(today=todays, relative=relatives, current=st.booleans())
def test_month_window_properties(today: date, relative: RelativePeriod, current: bool) -> None:
    rows = window(SeriesQuery(MONTHS, relative, current=current), today)
    complete = [row.period for row in rows if not row.partial]
    assert len(complete) == MONTHS_OF[relative.value]
    assert all(period.kind is PeriodKind.MONTH for period in complete)
    assert complete[-1].next_start == today.replace(day=1)
    for earlier, later in pairwise(complete):
        assert earlier.following() == later
    if current:
        assert rows[-1].partial
        assert rows[-1].period.contains(today)
        assert rows[-1].period == complete[-1].following()
    else:
        assert not any(row.partial for row in rows)


@given(today=todays, relative=relatives, current=st.booleans())
def test_week_window_properties(today: date, relative: RelativePeriod, current: bool) -> None:
    first, last = last_complete_months(today, MONTHS_OF[relative.value])
    rows = window(SeriesQuery(WEEKS, relative, current=current), today)
    complete = [row.period for row in rows if not row.partial]
    for period in complete:
        assert period.kind is PeriodKind.WEEK
        assert first <= period.start <= last
        assert period.next_start <= today  # it has ended
    for earlier, later in pairwise(complete):
        assert earlier.following() == later
    # every Monday of the window whose week has ended is there
    mondays = [first + timedelta(days=d) for d in range((last - first).days + 1)]
    expected = [day for day in mondays if day.weekday() == 0 and day + timedelta(days=7) <= today]
    assert [period.start for period in complete] == expected
    assert [row.partial for row in rows].count(True) == (1 if current else 0)
    if current:
        assert rows[-1].partial
        assert rows[-1].period.contains(today)
        assert rows[-1].period not in complete
