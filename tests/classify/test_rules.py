"""Tests for the grouping rules of docs/data-definitions.md (ruleset 1) in ``classify.rules``.

Cases are written as readable request lists for ONE partition: ``(seconds offset, method,
tag or "" for a by-digest request, digest or "" when unknown)``. Expected actions are
``(action, index of the action's first request, digest, http_method)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pullstats.action_window import JOIN_WINDOW_US, days_to_reclassify
from pullstats.classify.rules import (
    GroupedActions,
    group_requests,
)
from pullstats.dvp_columns import ActionKind

Request = tuple[float, str, str, str]  # (seconds offset, method, tag or "", digest or "")
Expected = tuple[str, int, str, str]  # (action, first request index, digest, http_method)
Columns = tuple[list[int | None], list[str], list[str], list[str]]

IDX = "sha256:idx"  # a multi-arch image index
AMD64 = "sha256:amd64"  # its platform manifests
ARM64 = "sha256:arm64"
OTHER = "sha256:other"  # an unrelated digest

GET = "GET"
HEAD = "HEAD"
TAG = ActionKind.PULL_BY_TAG
DIG = ActionKind.PULL_BY_DIGEST
VC = ActionKind.VERSION_CHECK


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


# ---- property tests -----------------------------------------------------------------------

TAGS = ["", "", "1.0", "latest"]  # "" twice: by-digest requests as often as by-tag ones
DIGESTS = ["", IDX, AMD64, ARM64]

gap_strategy = st.one_of(
    st.integers(min_value=0, max_value=8_000_000),
    st.sampled_from([0, JOIN_WINDOW_US - 1, JOIN_WINDOW_US, JOIN_WINDOW_US + 1]),
)
request_strategy = st.tuples(
    gap_strategy,
    st.sampled_from([GET, HEAD]),
    st.sampled_from(TAGS),
    st.sampled_from(DIGESTS),
)


@st.composite
def streams(draw: st.DrawFn) -> Columns:
    rows = draw(st.lists(request_strategy, max_size=30))
    gaps: list[int | None] = [None if i == 0 else row[0] for i, row in enumerate(rows)]
    return (
        gaps,
        [row[1] for row in rows],
        [row[2] for row in rows],
        [row[3] for row in rows],
    )


@pytest.mark.slow
@settings(max_examples=500)
@given(streams())
def test_property_partition_invariants(stream: Columns) -> None:
    gaps, methods, tags, digests = stream
    n = len(methods)
    out = group_requests(gaps, methods, tags, digests)
    k = len(out)

    # all columns have one entry per action
    assert (
        len(out.first_request)
        == len(out.action)
        == len(out.digest)
        == len(out.http_method)
        == len(out.size)
        == k
    )
    # every request belongs to exactly one action, and actions never interleave:
    # action k covers first_request[k] .. first_request[k+1]-1
    if n == 0:
        assert k == 0
        return
    assert out.first_request[0] == 0
    assert all(a < b for a, b in zip(out.first_request, out.first_request[1:], strict=False))
    bounds = [*out.first_request, n]
    assert out.size == [bounds[j + 1] - bounds[j] for j in range(k)]
    assert sum(out.size) == n

    for j in range(k):
        lo, hi = bounds[j], bounds[j + 1]
        span = range(lo, hi)
        assert 1 <= out.size[j] <= 3
        assert out.action[j] in {
            ActionKind.PULL_BY_TAG,
            ActionKind.PULL_BY_DIGEST,
            ActionKind.VERSION_CHECK,
        }
        has_get = any(methods[i] == GET for i in span)
        if out.size[j] > 1:
            assert has_get
        # only an action's first request may be a HEAD; later ones are GETs within 5 s
        for i in range(lo + 1, hi):
            assert methods[i] == GET
            gap = gaps[i]
            assert gap is not None
            assert gap <= JOIN_WINDOW_US
        assert out.http_method[j] == (GET if has_get else HEAD)
        if out.action[j] == ActionKind.VERSION_CHECK:
            assert out.size[j] == 1
            assert out.http_method[j] == HEAD
        # the kind follows the opening request
        if tags[lo]:
            assert out.action[j] == (
                ActionKind.PULL_BY_TAG if has_get else ActionKind.VERSION_CHECK
            )
        else:
            assert out.action[j] == DIG
        # the digest is the first digest seen in the action ("" when none was recorded)
        assert out.digest[j] == next((digests[i] for i in span if digests[i]), "")

    # every HEAD and every request more than 5 s after its predecessor opens an action
    starts = set(out.first_request)
    for i in range(1, n):
        gap = gaps[i]
        assert gap is not None
        if methods[i] == HEAD or gap > JOIN_WINDOW_US:
            assert i in starts


@given(streams())
def test_property_deterministic(stream: Columns) -> None:
    first = group_requests(*stream)
    second = group_requests(*stream)
    as_tuple_input = group_requests(*(tuple(column) for column in stream))
    assert first == second == as_tuple_input


def _may_join(action: list[tuple[str, str, str]], method: str, tag: str, digest: str) -> bool:
    """The §3 table, transcribed row by row (the 5 s test is done by the caller).

    ``action`` holds the open action's requests as (method, tag, digest).
    """
    if method != GET:
        return False
    fetched = [d for m, _, d in action if m == GET]
    if not fetched:  # the open action is a single HEAD
        head_method, head_tag, head_digest = action[0]
        assert head_method == HEAD and len(action) == 1
        if head_tag:  # row 1 (+ the unknown-digest bullet: any GET by digest joins)
            if tag:
                return tag == head_tag
            return not head_digest or digest == head_digest
        return not tag and digest == head_digest  # row 2
    # row 3: has fetched digest X by GET and no other digest yet -> one GET by digest != X
    return not tag and len(fetched) == 1 and digest != fetched[0]


def _reference(stream: Columns) -> list[tuple[str, int, str, str, int]]:
    gaps, methods, tags, digests = stream
    actions: list[tuple[int, list[tuple[str, str, str]]]] = []
    for i, (gap, m, t, d) in enumerate(zip(gaps, methods, tags, digests, strict=True)):
        if (
            actions
            and gap is not None
            and gap <= JOIN_WINDOW_US
            and _may_join(actions[-1][1], m, t, d)
        ):
            actions[-1][1].append((m, t, d))
        else:
            actions.append((i, [(m, t, d)]))
    result = []
    for first, reqs in actions:
        has_get = any(m == GET for m, _, _ in reqs)
        opened_by_tag = bool(reqs[0][1])
        kind = (
            (ActionKind.PULL_BY_TAG if has_get else ActionKind.VERSION_CHECK)
            if opened_by_tag
            else ActionKind.PULL_BY_DIGEST
        )
        digest = next((d for _, _, d in reqs if d), "")
        result.append((kind, first, digest, GET if has_get else HEAD, len(reqs)))
    return result


@pytest.mark.slow
@settings(max_examples=500)
@given(streams())
def test_property_matches_table_transcription(stream: Columns) -> None:
    out = group_requests(*stream)
    got = list(
        zip(out.action, out.first_request, out.digest, out.http_method, out.size, strict=True)
    )
    assert got == _reference(stream)


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
