"""The §3 rules (ruleset version 1): group one partition's requests into DVP actions.

Pure logic, no I/O. Requests arrive already partitioned by (ip_hash, namespace, repository) and
sorted by (timestamp, arrival); ``gap_us`` is the time since the previous request of the same
partition, or None at a partition's first request. Each request joins the open action or opens
a new one:

    open action so far                     may be joined by
    HEAD by tag T (returned digest X)      GET by tag T, or GET by digest X
    HEAD by digest X                       GET by digest X
    fetched digest X by GET, no other yet  one GET by digest ≠ X (a platform manifest)

and only if it comes at most 5.000 s after the action's previous request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pullstats.action_window import JOIN_WINDOW_US
from pullstats.dvp_columns import ActionKind

RULESET_VERSION = 1


@dataclass
class GroupedActions:
    """One entry per action: the index of its first request and what the rules decided."""

    first_request: list[int] = field(default_factory=list)
    action: list[str] = field(default_factory=list)
    digest: list[str] = field(default_factory=list)
    http_method: list[str] = field(default_factory=list)
    size: list[int] = field(default_factory=list)  # requests in the action

    def __len__(self) -> int:
        return len(self.first_request)


def group_requests(
    gap_us: Sequence[int | None],
    method: Sequence[str],
    tag: Sequence[str],
    digest: Sequence[str],
) -> GroupedActions:
    """Group sorted, partitioned requests into actions (see the module docstring).

    A request is by tag when ``tag`` is non-empty, else by digest; ``digest`` is the digest
    requested or returned, "" when the source did not record it.
    """
    out = GroupedActions()
    first = -1
    by_tag = False
    open_tag = ""
    has_get = False
    head_digest = ""  # digest of an opening HEAD; "" when unknown
    fetched: list[str] = []  # digests fetched by GET, in order ("" when unknown)
    first_digest = ""
    size = 0

    def emit() -> None:
        if not by_tag:
            action = ActionKind.PULL_BY_DIGEST
        else:
            action = ActionKind.PULL_BY_TAG if has_get else ActionKind.VERSION_CHECK
        out.first_request.append(first)
        out.action.append(action)
        out.digest.append(first_digest)
        out.http_method.append("GET" if has_get else "HEAD")
        out.size.append(size)

    for i in range(len(method)):
        gap = gap_us[i]
        m, t, d = method[i], tag[i], digest[i]
        joins = False
        if first >= 0 and gap is not None and gap <= JOIN_WINDOW_US and m == "GET":
            if not has_get:  # the action so far is a single HEAD
                if by_tag:
                    joins = t == open_tag if t else (not head_digest or d == head_digest)
                else:
                    joins = not t and d == head_digest
            else:
                joins = not t and len(fetched) == 1 and d != fetched[0]
        if joins:
            has_get = True
            fetched.append(d)
            if not first_digest:
                first_digest = d
            size += 1
            continue
        if first >= 0:
            emit()
        first = i
        by_tag = bool(t)
        open_tag = t
        has_get = m == "GET"
        head_digest = "" if has_get else d
        fetched = [d] if has_get else []
        first_digest = d
        size = 1
    if first >= 0:
        emit()
    return out
