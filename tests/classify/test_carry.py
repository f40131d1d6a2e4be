"""What a run hands the day after it, and when its start depends on more than the day before
(``classify/carry.py``), on hand-built requests of one client and repository."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from pullstats.classify.carry import handed_over, opening_actions, reaches_back, taken_in
from pullstats.classify.grouping import group_columns
from pullstats.lake_schema import ACTIONS

RUN = dt.date(2026, 10, 8)  # a run's first day; the day before it is read whole
BEFORE = dt.datetime(2026, 10, 7)


def _requests(rows: list[Row]) -> pa.Table:
    """(time, method, tag, digest) of one partition, in order; ids r0, r1, …"""
    return pa.table(
        {
            "ts": pa.array([row[0] for row in rows], pa.timestamp("us")),
            "method": [row[1] for row in rows],
            "tag": [row[2] for row in rows],
            "digest": [row[3] for row in rows],
            "id": [f"r{index}" for index in range(len(rows))],
        }
    )


Row = tuple[dt.datetime, str, str, str]


def _every(seconds: int, start: dt.datetime, end: dt.datetime, method: str, tag: str) -> list[Row]:
    """A request every ``seconds`` from ``start`` to ``end``: of ``tag``, or of a new digest."""
    rows: list[Row] = []
    at, number = start, 0
    while at <= end:
        number += 1
        rows.append((at, method, tag, "" if tag else f"sha256:{number:064x}"))
        at += dt.timedelta(seconds=seconds)
    return rows


def _one_partition(table: pa.Table) -> np.ndarray:
    starts = np.zeros(table.num_rows, np.bool_)
    starts[0] = True
    return starts


def test_a_chain_of_digest_pairs_through_the_day_before_reaches_back() -> None:
    # GETs of new digests every 4 s from 00:00:02 of the day before into the run: whether
    # 00:00:02 is taken in by the day before's last action flips every pair after it
    table = _requests(
        _every(
            4, BEFORE + dt.timedelta(seconds=2), BEFORE + dt.timedelta(days=1, minutes=1), "GET", ""
        )
    )
    assert reaches_back(table, _one_partition(table), RUN)


def test_a_head_every_3_s_does_not_reach_back() -> None:
    # a HEAD is never taken in, and every one opens an action: nothing to look back for
    rows = _every(
        3,
        BEFORE + dt.timedelta(seconds=1),
        BEFORE + dt.timedelta(days=1, minutes=1),
        "HEAD",
        "latest",
    )
    table = _requests(rows)
    assert not reaches_back(table, _one_partition(table), RUN)


def test_a_tag_pulled_every_4_s_does_not_reach_back() -> None:
    # GET by tag then GET of its platform manifest, every 4 s: a GET by tag never joins a
    # complete action, so the pairs start afresh at each tag whatever came before
    rows: list[Row] = []
    at = BEFORE + dt.timedelta(seconds=2)
    while at <= BEFORE + dt.timedelta(days=1, minutes=1):
        rows += [
            (at, "GET", "1.0", f"sha256:{'a' * 64}"),
            (at + dt.timedelta(seconds=1), "GET", "", f"sha256:{'b' * 64}"),
        ]
        at += dt.timedelta(seconds=4)
    table = _requests(rows)
    assert not reaches_back(table, _one_partition(table), RUN)


def test_a_chain_starting_after_the_first_10_s_does_not_reach_back() -> None:
    table = _requests(
        _every(
            4,
            BEFORE + dt.timedelta(seconds=11),
            BEFORE + dt.timedelta(days=1, minutes=1),
            "GET",
            "",
        )
    )
    assert not reaches_back(table, _one_partition(table), RUN)


def test_what_the_day_before_takes_in_is_left_out_of_the_day_only() -> None:
    midnight = dt.datetime(2026, 10, 8)
    table = _requests(
        [
            (midnight - dt.timedelta(seconds=2), "GET", "", "sha256:" + "1" * 64),  # r0 opens
            (midnight + dt.timedelta(seconds=1), "GET", "", "sha256:" + "2" * 64),  # r1 joins r0
            (midnight + dt.timedelta(seconds=3), "GET", "", "sha256:" + "3" * 64),  # r2 opens
            (midnight + dt.timedelta(seconds=5), "GET", "", "sha256:" + "4" * 64),  # r3 joins r2
        ]
    )
    gaps = np.diff(table["ts"].to_numpy().astype(np.int64), prepend=0)
    grouped = group_columns(
        gaps, _one_partition(table), table["method"].combine_chunks(),
        table["tag"].combine_chunks(), table["digest"].combine_chunks(),
    )  # fmt: skip
    assert list(grouped.first_request) == [0, 2]
    assert taken_in(table, grouped.first_request, RUN) == frozenset({"r1"})
    # the run from the 8th starts at r2: r0 is the day before's, r1 was taken in
    assert handed_over(table, RUN, frozenset({"r1"}))["id"].to_pylist() == ["r2", "r3"]
    # an id is kept once a day: the same id on the day after is another request
    later = table.set_column(
        0,
        "ts",
        pa.array(
            [row + dt.timedelta(days=1) for row in table["ts"].to_pylist()], pa.timestamp("us")
        ),
    )
    both = pa.concat_tables([table, later])
    assert handed_over(both, RUN, frozenset({"r1"}))["id"].to_pylist() == [
        "r2",
        "r3",
        "r0",
        "r1",
        "r2",
        "r3",
    ]


def test_actions_open_alike_whatever_the_enrichment_says_of_them() -> None:
    # what an address or an agent is found to be (the bundled tables, the parser of a later
    # release) is no part of the grouping: a day whose stored actions say otherwise there
    # opens as a run hands it over, and is not classified again (nor every day after it)
    day = dt.date(2026, 10, 8)
    row = {
        "timestamp": dt.datetime(2026, 10, 8, 0, 0, 3),
        "action_day": day,
        "namespace": "acme",
        "repository": "api",
        "reference": "1.0",
        "digest": "sha256:" + "a" * 64,
        "tag": "1.0",
        "http_method": "GET",
        "action": "pull_by_tag",
        "type": "hosting",
        "host": "aws",
        "country": "US",
        "domain": "example.com",
        "user_agent_tool": "docker",
        "user_agent_version": "27.3.1",
        "user_agent": "docker/27.3.1",
        "ip_hash": b"\x01",
        "user_hash": None,
        "ruleset_version": 3,
    }
    enriched_otherwise = {
        **row,
        "type": "",
        "host": "",
        "country": "DE",
        "domain": "",
        "user_agent_tool": "unknown",
        "user_agent_version": "",
        "ruleset_version": 4,
    }
    stored, computed = (
        pa.Table.from_pylist([r], ACTIONS.schema) for r in (row, enriched_otherwise)
    )
    assert opening_actions(stored, day).equals(opening_actions(computed, day))
    grouped_otherwise = {**row, "action": "pull_by_digest"}
    assert not opening_actions(stored, day).equals(
        opening_actions(pa.Table.from_pylist([grouped_otherwise], ACTIONS.schema), day)
    )
