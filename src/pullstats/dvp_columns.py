"""The DVP's vocabulary: the kinds of action, and the columns of its CSV files in their order.

Exports write the columns and the Docker Hub import reads them back; the lists and their order
are the export contract (docs/exports.md). Every stage names an action by :class:`ActionKind`.
Pure.
"""

from __future__ import annotations

from enum import StrEnum


class ActionKind(StrEnum):
    """What one action is (docs/data-definitions.md): the ``action`` column of the lake's
    actions and of the raw view, and a count column of every summary, in this order."""

    PULL_BY_TAG = "pull_by_tag"
    PULL_BY_DIGEST = "pull_by_digest"
    VERSION_CHECK = "version_check"


#: The action kinds' names, in the order of the summaries' count columns.
ACTION_KINDS: tuple[str, ...] = tuple(kind.value for kind in ActionKind)

#: The raw view: one row per action.
RAW_COLUMNS = (
    "timestamp",
    "namespace",
    "repository",
    "reference",
    "digest",
    "tag",
    "action_day",
    "http_method",
    "action",
    "type",
    "host",
    "country",
    "domain",
    "user_agent_tool",
    "user_agent_version",
    "user_agent",
)

#: The counts that end every summary row (summary, repo-summary, namespace-summary).
COUNT_COLUMNS = ("unique_ip_count", *ACTION_KINDS)
