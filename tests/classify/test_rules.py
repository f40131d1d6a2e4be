"""Tests for the grouping rules of docs/data-definitions.md (ruleset 1) in ``classify.rules``.

Cases are written as readable request lists for ONE partition: ``(seconds offset, method,
tag or "" for a by-digest request, digest or "" when unknown)``. Expected actions are
``(action, index of the action's first request, digest, http_method)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pytest

from pullstats.action_window import days_to_reclassify
from pullstats.classify.rules import (
    GroupedActions,
    group_requests,
)
from tests.classify.rule_cases import (
    AMD64,
    ARM64,
    DIG,
    GET,
    HEAD,
    IDX,
    OTHER,
    TAG,
    VC,
    Columns,
    Expected,
    Request,
)


def partition(requests: Sequence[Request]) -> Columns:
    """Turn one partition's readable request list into ``group_requests``' four sequences.

    Offsets are converted to integer microseconds before subtracting, so 5.000 s is exactly
    5_000_000 µs and 5.001 s exactly 5_001_000 µs (no float drift at the window's edge).
    """
    offsets_us = [round(seconds * 1_000_000) for seconds, _, _, _ in requests]
    gaps: list[int | None] = [
        None if i == 0 else offsets_us[i] - offsets_us[i - 1] for i in range(len(requests))
    ]
    return (
        gaps,
        [method for _, method, _, _ in requests],
        [tag for _, _, tag, _ in requests],
        [digest for _, _, _, digest in requests],
    )


def as_tuples(out: GroupedActions) -> list[Expected]:
    return list(zip(out.action, out.first_request, out.digest, out.http_method, strict=True))


def expected_sizes(expected: Sequence[Expected], n: int) -> list[int]:
    """Actions never interleave in a partition: action k spans first[k] .. first[k+1]-1."""
    firsts = [first for _, first, _, _ in expected] + [n]
    return [firsts[k + 1] - firsts[k] for k in range(len(expected))]


def test_partition_helper() -> None:
    gaps, methods, tags, digests = partition(
        [(0.0, HEAD, "1.0", IDX), (0.4, GET, "", IDX), (0.9, GET, "", AMD64)]
    )
    assert gaps == [None, 400_000, 500_000]
    assert methods == [HEAD, GET, GET]
    assert tags == ["1.0", "", ""]
    assert digests == [IDX, IDX, AMD64]
    assert partition([(0.0, GET, "a", ""), (5.0, GET, "a", ""), (10.001, GET, "a", "")])[0] == [
        None,
        5_000_000,
        5_001_000,
    ]


CASES: list[tuple[str, list[Request], list[Expected]]] = [
    # ---- the 5.000 s window, inclusive, for every row of the table -------------------------
    (
        "row1-head-tag-get-tag-at-5.000s-joins",
        [(0.0, HEAD, "1.0", IDX), (5.0, GET, "1.0", IDX)],
        [(TAG, 0, IDX, GET)],
    ),
    (
        "row1-head-tag-get-tag-at-5.001s-does-not-join",
        [(0.0, HEAD, "1.0", IDX), (5.001, GET, "1.0", IDX)],
        [(VC, 0, IDX, HEAD), (TAG, 1, IDX, GET)],
    ),
    (
        "row1-head-tag-get-tag-at-5.000001s-does-not-join",
        [(0.0, HEAD, "1.0", IDX), (5.000001, GET, "1.0", IDX)],
        [(VC, 0, IDX, HEAD), (TAG, 1, IDX, GET)],
    ),
    (
        "row1-head-tag-get-digest-at-5.000s-joins",
        [(0.0, HEAD, "1.0", IDX), (5.0, GET, "", IDX)],
        [(TAG, 0, IDX, GET)],
    ),
    (
        "row1-head-tag-get-digest-at-5.001s-does-not-join",
        [(0.0, HEAD, "1.0", IDX), (5.001, GET, "", IDX)],
        [(VC, 0, IDX, HEAD), (DIG, 1, IDX, GET)],
    ),
    (
        "row2-head-digest-get-same-digest-at-5.000s-joins",
        [(0.0, HEAD, "", IDX), (5.0, GET, "", IDX)],
        [(DIG, 0, IDX, GET)],
    ),
    (
        "row2-head-digest-get-same-digest-at-5.001s-does-not-join",
        [(0.0, HEAD, "", IDX), (5.001, GET, "", IDX)],
        [(DIG, 0, IDX, HEAD), (DIG, 1, IDX, GET)],
    ),
    (
        "row3-get-tag-get-platform-at-5.000s-joins",
        [(0.0, GET, "1.0", IDX), (5.0, GET, "", AMD64)],
        [(TAG, 0, IDX, GET)],
    ),
    (
        "row3-get-tag-get-platform-at-5.001s-does-not-join",
        [(0.0, GET, "1.0", IDX), (5.001, GET, "", AMD64)],
        [(TAG, 0, IDX, GET), (DIG, 1, AMD64, GET)],
    ),
    (
        "row3-get-digest-get-other-at-5.001s-does-not-join",
        [(0.0, GET, "", IDX), (5.001, GET, "", AMD64)],
        [(DIG, 0, IDX, GET), (DIG, 1, AMD64, GET)],
    ),
    (
        "window-measured-from-previous-request-not-first",
        [(0.0, HEAD, "1.0", IDX), (4.9, GET, "", IDX), (9.8, GET, "", AMD64)],
        [(TAG, 0, IDX, GET)],
    ),
    (
        "window-from-previous-request-broken-at-5.001s",
        [(0.0, HEAD, "1.0", IDX), (4.9, GET, "", IDX), (9.901, GET, "", AMD64)],
        [(TAG, 0, IDX, GET), (DIG, 2, AMD64, GET)],
    ),
    (
        "window-from-previous-request-both-gaps-exactly-5.000s",
        [(0.0, HEAD, "1.0", IDX), (5.0, GET, "", IDX), (10.0, GET, "", AMD64)],
        [(TAG, 0, IDX, GET)],
    ),
    (
        "crosses-midnight-sunday-23:59:59-to-monday-00:00:01-is-one-pull",
        [(86_399.0, HEAD, "1.0", IDX), (86_401.0, GET, "1.0", IDX)],
        [(TAG, 0, IDX, GET)],
    ),
    # ---- row 2: HEAD by digest X, joined by GET by digest X -------------------------------
    (
        "head-digest-alone-is-pull-by-digest-method-head",
        [(0.0, HEAD, "", IDX)],
        [(DIG, 0, IDX, HEAD)],
    ),
    (
        "head-digest-then-get-same-digest-is-one-pull-by-digest",
        [(0.0, HEAD, "", IDX), (0.3, GET, "", IDX)],
        [(DIG, 0, IDX, GET)],
    ),
    (
        "head-digest-then-get-other-digest-is-two-actions",
        [(0.0, HEAD, "", IDX), (0.3, GET, "", OTHER)],
        [(DIG, 0, IDX, HEAD), (DIG, 1, OTHER, GET)],
    ),
    (
        "head-digest-then-get-tag-is-two-actions",
        [(0.0, HEAD, "", IDX), (0.3, GET, "1.0", IDX)],
        [(DIG, 0, IDX, HEAD), (TAG, 1, IDX, GET)],
    ),
    (
        "head-digest-get-same-get-platform-is-one-pull-by-digest",
        [(0.0, HEAD, "", IDX), (0.3, GET, "", IDX), (0.6, GET, "", AMD64)],
        [(DIG, 0, IDX, GET)],
    ),
    (
        "head-digest-then-head-same-digest-is-two-actions",
        [(0.0, HEAD, "", IDX), (0.3, HEAD, "", IDX)],
        [(DIG, 0, IDX, HEAD), (DIG, 1, IDX, HEAD)],
    ),
    # ---- row 1: HEAD by tag T (returned X), joined by GET by tag T or GET by digest X ------
    (
        "multi-arch-head-tag-get-index-get-platform-is-one-pull-by-tag",
        [(0.0, HEAD, "1.0", IDX), (0.4, GET, "", IDX), (0.9, GET, "", AMD64)],
        [(TAG, 0, IDX, GET)],
    ),
    (
        "multi-arch-third-digest-opens-new-action",
        [
            (0.0, HEAD, "1.0", IDX),
            (0.4, GET, "", IDX),
            (0.9, GET, "", AMD64),
            (1.2, GET, "", ARM64),
        ],
        [(TAG, 0, IDX, GET), (DIG, 3, ARM64, GET)],
    ),
    (
        "head-tag-get-tag-get-platform-is-one-pull-by-tag",
        [(0.0, HEAD, "1.0", IDX), (0.4, GET, "1.0", IDX), (0.9, GET, "", AMD64)],
        [(TAG, 0, IDX, GET)],
    ),
    (
        "head-tag-x-then-get-digest-x-is-one-pull-by-tag",
        [(0.0, HEAD, "1.0", IDX), (0.4, GET, "", IDX)],
        [(TAG, 0, IDX, GET)],
    ),
    (
        "head-tag-x-then-get-digest-z-is-two-actions",
        [(0.0, HEAD, "1.0", IDX), (0.4, GET, "", OTHER)],
        [(VC, 0, IDX, HEAD), (DIG, 1, OTHER, GET)],
    ),
    (
        "head-tag-x-get-digest-x-get-digest-x-again-opens-new-action",
        [(0.0, HEAD, "1.0", IDX), (0.4, GET, "", IDX), (0.8, GET, "", IDX)],
        [(TAG, 0, IDX, GET), (DIG, 2, IDX, GET)],
    ),
    (
        "head-tag-alone-is-version-check",
        [(0.0, HEAD, "1.0", IDX)],
        [(VC, 0, IDX, HEAD)],
    ),
    (
        "head-tag-then-head-tag-is-two-version-checks",
        [(0.0, HEAD, "1.0", IDX), (0.5, HEAD, "1.0", IDX)],
        [(VC, 0, IDX, HEAD), (VC, 1, IDX, HEAD)],
    ),
    (
        "head-tag-then-head-digest-is-two-actions",
        [(0.0, HEAD, "1.0", IDX), (0.5, HEAD, "", IDX)],
        [(VC, 0, IDX, HEAD), (DIG, 1, IDX, HEAD)],
    ),
    (
        "head-tag-t-then-get-other-tag-u-is-version-check-and-pull",
        [(0.0, HEAD, "1.0", IDX), (0.5, GET, "2.0", OTHER)],
        [(VC, 0, IDX, HEAD), (TAG, 1, OTHER, GET)],
    ),
    (
        "head-tag-t-then-get-other-tag-u-same-digest-is-two-actions",
        [(0.0, HEAD, "1.0", IDX), (0.5, GET, "latest", IDX)],
        [(VC, 0, IDX, HEAD), (TAG, 1, IDX, GET)],
    ),
    (
        "head-tag-x-then-get-tag-t-returning-other-digest-joins-digest-x",
        [(0.0, HEAD, "1.0", IDX), (0.5, GET, "1.0", OTHER)],
        [(TAG, 0, IDX, GET)],
    ),
    # ---- unknown HEAD digest: the first GET by digest that joins is its digest -------------
    (
        "head-tag-unknown-then-get-digest-y-is-one-pull-by-tag-digest-y",
        [(0.0, HEAD, "1.0", ""), (0.5, GET, "", IDX)],
        [(TAG, 0, IDX, GET)],
    ),
    (
        "head-tag-unknown-then-get-digest-y-get-platform-is-one-pull-by-tag",
        [(0.0, HEAD, "1.0", ""), (0.5, GET, "", IDX), (0.8, GET, "", AMD64)],
        [(TAG, 0, IDX, GET)],
    ),
    (
        "head-tag-unknown-then-get-digest-y-at-5.001s-is-two-actions",
        [(0.0, HEAD, "1.0", ""), (5.001, GET, "", IDX)],
        [(VC, 0, "", HEAD), (DIG, 1, IDX, GET)],
    ),
    (
        "head-tag-unknown-alone-is-version-check-without-digest",
        [(0.0, HEAD, "1.0", "")],
        [(VC, 0, "", HEAD)],
    ),
    (
        "head-tag-unknown-then-get-tag-t-is-one-pull-by-tag",
        [(0.0, HEAD, "1.0", ""), (0.5, GET, "1.0", "")],
        [(TAG, 0, "", GET)],
    ),
    (
        "head-tag-unknown-then-get-other-tag-is-two-actions",
        [(0.0, HEAD, "1.0", ""), (0.5, GET, "2.0", "")],
        [(VC, 0, "", HEAD), (TAG, 1, "", GET)],
    ),
    # ---- row 3: an action that fetched X by GET takes one GET by digest ≠ X ---------------
    (
        "get-tag-then-get-platform-is-one-pull-by-tag",
        [(0.0, GET, "1.0", IDX), (0.4, GET, "", AMD64)],
        [(TAG, 0, IDX, GET)],
    ),
    (
        "get-tag-then-get-same-digest-is-two-actions",
        [(0.0, GET, "1.0", IDX), (0.4, GET, "", IDX)],
        [(TAG, 0, IDX, GET), (DIG, 1, IDX, GET)],
    ),
    (
        "get-tag-get-platform-get-second-platform-opens-new-action",
        [(0.0, GET, "1.0", IDX), (0.4, GET, "", AMD64), (0.8, GET, "", ARM64)],
        [(TAG, 0, IDX, GET), (DIG, 2, ARM64, GET)],
    ),
    (
        "get-digest-then-get-other-digest-is-one-pull-by-digest",
        [(0.0, GET, "", IDX), (0.4, GET, "", AMD64)],
        [(DIG, 0, IDX, GET)],
    ),
    (
        "get-digest-then-get-same-digest-is-two-pulls-by-digest",
        [(0.0, GET, "", IDX), (0.4, GET, "", IDX)],
        [(DIG, 0, IDX, GET), (DIG, 1, IDX, GET)],
    ),
    (
        "get-digest-get-other-get-third-opens-new-action",
        [(0.0, GET, "", IDX), (0.4, GET, "", AMD64), (0.8, GET, "", ARM64)],
        [(DIG, 0, IDX, GET), (DIG, 2, ARM64, GET)],
    ),
    (
        "get-digest-then-get-tag-is-two-actions",
        [(0.0, GET, "", IDX), (0.4, GET, "1.0", OTHER)],
        [(DIG, 0, IDX, GET), (TAG, 1, OTHER, GET)],
    ),
    (
        "get-tag-unknown-digest-then-get-digest-joins-and-gives-digest",
        [(0.0, GET, "1.0", ""), (0.4, GET, "", AMD64)],
        [(TAG, 0, AMD64, GET)],
    ),
    # ---- repeated pulls and HEAD after GET ----------------------------------------------
    (
        "get-tag-twice-3s-apart-is-two-pulls-by-tag",
        [(0.0, GET, "latest", IDX), (3.0, GET, "latest", IDX)],
        [(TAG, 0, IDX, GET), (TAG, 1, IDX, GET)],
    ),
    (
        "get-tag-then-get-other-tag-is-two-pulls-by-tag",
        [(0.0, GET, "latest", IDX), (0.2, GET, "1.0", IDX)],
        [(TAG, 0, IDX, GET), (TAG, 1, IDX, GET)],
    ),
    (
        "head-after-get-is-pull-then-version-check",
        [(0.0, GET, "latest", IDX), (1.0, HEAD, "latest", IDX)],
        [(TAG, 0, IDX, GET), (VC, 1, IDX, HEAD)],
    ),
    (
        "head-digest-after-get-digest-is-two-pulls-by-digest",
        [(0.0, GET, "", IDX), (1.0, HEAD, "", IDX)],
        [(DIG, 0, IDX, GET), (DIG, 1, IDX, HEAD)],
    ),
    (
        "head-after-multi-arch-pull-is-version-check",
        [
            (0.0, HEAD, "1.0", IDX),
            (0.4, GET, "", IDX),
            (0.9, GET, "", AMD64),
            (1.5, HEAD, "1.0", IDX),
        ],
        [(TAG, 0, IDX, GET), (VC, 3, IDX, HEAD)],
    ),
    (
        "new-action-after-break-can-itself-be-joined",
        [(0.0, GET, "latest", IDX), (3.0, GET, "latest", IDX), (3.5, GET, "", AMD64)],
        [(TAG, 0, IDX, GET), (TAG, 1, IDX, GET)],
    ),
    (
        "version-check-then-multi-arch-pull",
        [
            (0.0, HEAD, "1.0", IDX),
            (0.2, HEAD, "1.0", IDX),
            (0.4, GET, "", IDX),
            (0.6, GET, "", AMD64),
        ],
        [(VC, 0, IDX, HEAD), (TAG, 1, IDX, GET)],
    ),
    (
        "simultaneous-requests-gap-zero",
        [(0.0, HEAD, "1.0", IDX), (0.0, GET, "", IDX), (0.0, GET, "", AMD64)],
        [(TAG, 0, IDX, GET)],
    ),
    ("empty-partition-has-no-actions", [], []),
]


@pytest.mark.parametrize(
    ("requests", "expected"),
    [pytest.param(requests, expected, id=case_id) for case_id, requests, expected in CASES],
)
def test_section3_table(requests: list[Request], expected: list[Expected]) -> None:
    out = group_requests(*partition(requests))
    assert as_tuples(out) == expected
    assert out.size == expected_sizes(expected, len(requests))
    assert len(out) == len(expected)


def test_case_ids_are_unique() -> None:
    ids = [case_id for case_id, _, _ in CASES]
    assert len(ids) == len(set(ids))


def test_only_requests_within_an_actions_reach_of_midnight_reopen_the_day_before() -> None:
    monday = date(2026, 3, 2)
    midnight = (monday - date(1970, 1, 1)).days * 86_400_000_000
    sunday, tuesday = monday - timedelta(days=1), monday + timedelta(days=1)
    # the day itself and the next always (a new request may take in the next day's first ones)
    assert days_to_reclassify({monday: midnight + 10_000_001}) == {monday, tuesday}
    # an action that opened at 23:59:59.999999 may end at 00:00:09.999999; 10.000 s is kept
    assert days_to_reclassify({monday: midnight + 10_000_000}) == {sunday, monday, tuesday}
    assert days_to_reclassify({monday: midnight}) == {sunday, monday, tuesday}
    assert days_to_reclassify({}) == set()
