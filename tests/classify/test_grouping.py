"""``classify.grouping`` decides the same actions as ``classify.rules.group_requests``.

``group_requests`` is the rules as written; ``group_columns`` is what the runner uses on whole
columns. Both are fed several partitions back to back (the first request of each has no gap),
including runs of back-to-back GETs that take the column version many rounds to settle.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pullstats.classify.grouping import _settle, group_columns
from pullstats.classify.rules import JOIN_WINDOW_US, group_requests
from pullstats.dvp_columns import ActionKind
from tests.conftest import examples

Stream = tuple[list[int | None], list[str], list[str], list[str]]

TAGS = ["", "", "1.0", "latest"]
DIGESTS = ["", "sha256:idx", "sha256:amd64", "sha256:arm64"]
request = st.tuples(
    st.one_of(
        st.integers(min_value=0, max_value=8_000_000),
        st.sampled_from([0, JOIN_WINDOW_US, JOIN_WINDOW_US + 1]),
    ),
    st.sampled_from(["GET", "HEAD"]),
    st.sampled_from(TAGS),
    st.sampled_from(DIGESTS),
)


@st.composite
def partitions(draw: st.DrawFn) -> Stream:
    """Several partitions, one after another, as the runner reads them."""
    gaps: list[int | None] = []
    methods: list[str] = []
    tags: list[str] = []
    digests: list[str] = []
    for rows in draw(st.lists(st.lists(request, min_size=1, max_size=25), max_size=6)):
        for i, (gap, method, tag, digest) in enumerate(rows):
            gaps.append(None if i == 0 else gap)
            methods.append(method)
            tags.append(tag)
            digests.append(digest)
    return gaps, methods, tags, digests


def by_columns(stream: Stream) -> list[tuple[int, str, str, str, int]]:
    gaps, methods, tags, digests = stream
    out = group_columns(
        np.array([0 if gap is None else gap for gap in gaps], np.int64),
        np.array([gap is None for gap in gaps], np.bool_),
        pa.array(methods, pa.string()),
        pa.array(tags, pa.string()),
        pa.array(digests, pa.string()),
    )
    return list(
        zip(
            out.first_request.tolist(),
            out.action.to_pylist(),
            out.digest.to_pylist(),
            out.http_method.to_pylist(),
            out.size.tolist(),
            strict=True,
        )
    )


def by_rules(stream: Stream) -> list[tuple[int, str, str, str, int]]:
    out = group_requests(*stream)
    return list(
        zip(out.first_request, out.action, out.digest, out.http_method, out.size, strict=True)
    )


@settings(max_examples=examples(400))
@given(partitions())
def test_the_columns_group_as_the_rules_do(stream: Stream) -> None:
    assert by_columns(stream) == by_rules(stream)


def test_a_long_run_of_platform_gets_settles_in_order() -> None:
    # GETs 1 s apart alternating two digests: index + platform, index + platform, ... each
    # pair one pull_by_digest; the tenth GET waits on all nine before it
    digests = ["sha256:idx", "sha256:amd64"] * 5
    stream: Stream = ([None] + [1_000_000] * 9, ["GET"] * 10, [""] * 10, digests)
    assert by_columns(stream) == by_rules(stream)
    assert [row[0] for row in by_columns(stream)] == [0, 2, 4, 6, 8]


def test_a_day_long_chain_of_digest_gets_groups_as_the_rules_do() -> None:
    # one client fetching a new digest every 4 s all day: 21,600 GETs that each may join the
    # one before, so each waits on all before it; they pair up, (0, 1), (2, 3), …
    n = 21_600
    digests = [f"sha256:{i:064x}" for i in range(n)]
    stream: Stream = ([None] + [4_000_000] * (n - 1), ["GET"] * n, [""] * n, digests)
    found = by_columns(stream)
    assert found == by_rules(stream)
    assert [row[0] for row in found] == list(range(0, n, 2))


def _opens_one_by_one(after_one: list[bool], after_head: list[bool]) -> list[bool]:
    """The module docstring's rule, request after request."""
    opens: list[bool] = []
    for i, (one, head) in enumerate(zip(after_one, after_head, strict=True)):
        if i == 0 or not (one or head):
            opens.append(True)
        elif opens[i - 1]:
            opens.append(not one)
        else:
            opens.append(not (i >= 2 and opens[i - 2] and head))
    return opens


joining = st.lists(st.tuples(st.booleans(), st.booleans()), max_size=300).map(
    lambda pairs: [(False, False), *pairs]  # the first request always opens
)


@settings(max_examples=examples(300))
@given(joining, st.sampled_from([0, 1, 4, 32, 10**9]))
def test_the_rounds_and_the_walk_settle_as_one_by_one(
    pairs: list[tuple[bool, bool]], rounds_left: int
) -> None:
    # rounds_left 0: the walk from the first round on; 10**9: rounds to the end
    after_one = [one for one, _ in pairs]
    after_head = [head and i >= 2 for i, (_, head) in enumerate(pairs)]
    found = _settle(np.array(after_one, np.bool_), np.array(after_head, np.bool_), rounds_left)
    assert found.tolist() == _opens_one_by_one(after_one, after_head)


def test_a_head_by_tag_without_digest_takes_the_first_digest_fetched() -> None:
    # HEAD 1.0 (digest unknown) → GET by tag 1.0 (digest unknown) → GET platform digest
    stream: Stream = (
        [None, 100_000, 200_000],
        ["HEAD", "GET", "GET"],
        ["1.0", "1.0", ""],
        ["", "", "sha256:amd64"],
    )
    assert by_columns(stream) == [(0, ActionKind.PULL_BY_TAG, "sha256:amd64", "GET", 3)]
    assert by_columns(stream) == by_rules(stream)


def test_no_requests_no_actions() -> None:
    assert by_columns(([], [], [], [])) == []


def test_a_head_by_digest_alone_is_a_pull_by_digest() -> None:
    stream: Stream = ([None], ["HEAD"], [""], ["sha256:idx"])
    assert by_columns(stream) == [(0, ActionKind.PULL_BY_DIGEST, "sha256:idx", "HEAD", 1)]
