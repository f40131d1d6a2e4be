"""The grouping rules of :mod:`pullstats.classify.rules`, over whole columns at once.

:func:`~pullstats.classify.rules.group_requests` walks the requests one by one in Python,
about a microsecond each; a month of two million requests spent seconds there and in turning
columns into Python lists for it. This module decides the same actions with NumPy and Arrow
compute, and :mod:`pullstats.classify.actions` uses it; ``group_requests`` stays the readable
statement of the rules, and the tests hold the two equal.

Why the rules vectorise: an action holds at most three requests, so whether request ``i``
joins the open action depends only on whether ``i - 1`` and ``i - 2`` opened theirs:

- ``i - 1`` opened: ``i`` joins when it may join that single request (:func:`_joins_one`);
- ``i - 1`` joined an action opened by a HEAD at ``i - 2``: ``i`` joins when it is a GET by a
  digest other than ``i - 1``'s (the platform manifest after the index);
- otherwise the open action is complete (a GET and a platform manifest, or three requests)
  and ``i`` opens a new one.

Requests that may join in neither case open an action outright; the others are decided in
rounds, each settling every request whose predecessor is settled, so a run of back-to-back
GETs takes as many rounds as it is long. A round is a few NumPy passes over the requests still
pending, so long runs would make that quadratic (a client pulling a new digest every few
seconds all day: tens of thousands of rounds over tens of thousands of requests); once the
rounds left look too many, the rest are walked in order instead, once each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pullstats.action_window import JOIN_WINDOW_US
from pullstats.dvp_columns import ActionKind

#: Action names by code: 0 pull_by_tag, 1 version_check, 2 pull_by_digest.
_ACTIONS = pa.array(
    [ActionKind.PULL_BY_TAG, ActionKind.VERSION_CHECK, ActionKind.PULL_BY_DIGEST], pa.string()
)
_METHODS = pa.array(["HEAD", "GET"], pa.string())


@dataclass(frozen=True)
class ActionColumns:
    """One entry per action, as :class:`~pullstats.classify.rules.GroupedActions` holds them."""

    first_request: np.ndarray  # int64 index of each action's first request
    action: pa.Array
    digest: pa.Array
    http_method: pa.Array
    size: np.ndarray  # int64 requests in each action

    def __len__(self) -> int:
        return len(self.first_request)


def group_columns(
    gap_us: np.ndarray, starts_partition: np.ndarray, method: pa.Array, tag: pa.Array,
    digest: pa.Array,
) -> ActionColumns:  # fmt: skip
    """The actions of sorted, partitioned requests, as ``group_requests`` decides them.

    ``gap_us`` is the time since the previous request (any value where ``starts_partition``
    is true); ``method``, ``tag`` and ``digest`` are string columns without nulls.
    """
    n = len(method)
    if n == 0:
        empty = np.zeros(0, np.int64)
        none = pa.array([], pa.string())
        return ActionColumns(empty, none, none, none, empty)
    is_get = _as_bool(pc.equal(method, "GET"))
    has_tag = _as_bool(pc.not_equal(tag, ""))
    has_digest = _as_bool(pc.not_equal(digest, ""))
    same_tag = np.zeros(n, np.bool_)  # request i has request i - 1's tag (digest)
    same_digest = np.zeros(n, np.bool_)
    same_tag[1:] = _as_bool(pc.equal(tag.slice(1), tag.slice(0, n - 1)))
    same_digest[1:] = _as_bool(pc.equal(digest.slice(1), digest.slice(0, n - 1)))

    near = is_get & ~np.asarray(starts_partition, np.bool_) & (np.asarray(gap_us) <= JOIN_WINDOW_US)
    near[0] = False
    # a GET by a digest other than the previous request's: what completes a fetched digest
    other_digest = near & ~has_tag & ~same_digest
    after_one = np.zeros(n, np.bool_)  # joins when request i - 1 opened the action
    after_one[1:] = _joins_one(
        near[1:], is_get[:-1], has_tag[:-1], ~has_digest[:-1], has_tag[1:], same_tag[1:],
        same_digest[1:], other_digest[1:],
    )  # fmt: skip
    after_head = np.zeros(n, np.bool_)  # joins when i - 2 was a HEAD that i - 1 joined
    after_head[2:] = other_digest[2:] & ~is_get[:-2]

    opens = _settle(after_one, after_head)
    first = np.flatnonzero(opens)
    size = np.diff(np.append(first, n))
    has_get = np.logical_or.reduceat(is_get, first)
    by_tag = has_tag[first]
    codes = np.where(by_tag, np.where(has_get, 0, 1), 2)
    # the first digest seen in the action: its first request's, else its joiners' in order
    seen = first.copy()
    for step in (1, 2):
        later = ~has_digest[seen] & (size > step)
        seen[later] = first[later] + step
    return ActionColumns(
        first_request=first.astype(np.int64),
        action=_ACTIONS.take(pa.array(codes, pa.int8())),
        digest=digest.take(pa.array(seen)),
        http_method=_METHODS.take(pa.array(has_get.astype(np.int8))),
        size=size.astype(np.int64),
    )


def _joins_one(
    near: np.ndarray, prev_get: np.ndarray, prev_tag: np.ndarray, prev_no_digest: np.ndarray,
    has_tag: np.ndarray, same_tag: np.ndarray, same_digest: np.ndarray,
    other_digest: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Whether each request may join an action of the one request before it."""
    after_tag_head = np.where(has_tag, same_tag, prev_no_digest | same_digest)
    after_digest_head = ~has_tag & same_digest
    after_head = near & np.where(prev_tag, after_tag_head, after_digest_head)
    return np.where(prev_get, other_digest, after_head)


#: The scalar walk costs some 30 times a round's NumPy work per request: rounds go on while
#: the requests pending are fewer than this many times those the last round settled.
_ROUNDS_LEFT = 32


def _settle(
    after_one: np.ndarray, after_head: np.ndarray, rounds_left: int = _ROUNDS_LEFT
) -> np.ndarray:
    """Which requests open an action, given when each may join (see the module docstring);
    ``rounds_left``: how many rounds the pending requests may still look like before the
    walk settles them."""
    opens: np.ndarray = np.logical_not(after_one | after_head)
    settled = opens.copy()
    pending = np.flatnonzero(~settled)  # never 0: the first request always opens
    while pending.size:
        ready = pending[settled[pending - 1]]  # never empty: the first pending one is ready
        prev_opened = opens[ready - 1]
        # a joined i - 1 has a settled i - 2 (it needed it to be decided)
        two_back = np.maximum(ready - 2, 0)
        joins = np.where(prev_opened, after_one[ready], opens[two_back] & after_head[ready])
        opens[ready] = ~joins
        settled[ready] = True
        pending = pending[~settled[pending]]
        if pending.size > rounds_left * ready.size:
            _walk(opens, pending, after_one, after_head)
            break
    return opens


def _walk(
    opens: np.ndarray, pending: np.ndarray, after_one: np.ndarray, after_head: np.ndarray
) -> None:
    """Settle the ``pending`` requests (ascending) in order, in place: the requests before each
    are settled already, or pending and before it, so walked first."""
    flags = opens.tolist()
    for i, one, head in zip(
        pending.tolist(), after_one[pending].tolist(), after_head[pending].tolist(), strict=True
    ):
        # i - 1 opened: i joins it when it may join one request; i - 1 joined: i joins when
        # i - 2 opened that action (a HEAD, as ``after_head`` says) and i may complete it
        flags[i] = not one if flags[i - 1] else not (flags[i - 2] and head)
    opens[pending] = np.asarray(flags, np.bool_)[pending]


def _as_bool(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False), np.bool_)
