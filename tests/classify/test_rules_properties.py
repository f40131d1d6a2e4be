"""Properties of the grouping rules (``classify.rules``) on generated request streams: the
partition's invariants, determinism, and agreement with a transcription of the rules' table."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pullstats.action_window import JOIN_WINDOW_US
from pullstats.classify.rules import group_requests
from pullstats.dvp_columns import ActionKind
from tests.classify.rule_cases import (
    AMD64,
    ARM64,
    DIG,
    GET,
    HEAD,
    IDX,
    Columns,
)
from tests.conftest import examples

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
@settings(max_examples=examples(500))
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
@settings(max_examples=examples(500))
@given(streams())
def test_property_matches_table_transcription(stream: Columns) -> None:
    out = group_requests(*stream)
    got = list(
        zip(out.action, out.first_request, out.digest, out.http_method, out.size, strict=True)
    )
    assert got == _reference(stream)
