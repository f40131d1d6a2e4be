"""The trends rollup: a period's pulls by repository, tag, client country, cloud provider and
client tool (Docker's Trends report's grain), and the coarser groupings the trends route
answers, each with its exact distinct users (the step ``rollups.trends``). Pure.

A distinct count never adds up from finer rows, so every grouping the route may be asked for is
computed and stored on its own (:data:`GROUPINGS`); any other is refused with the list of these.
A grouping is named by its dimensions in :data:`DIMENSIONS` order, comma-joined (``""`` is the
namespace's total, ``repo,country`` a repository by country). Two dimensions follow from others
and come with them without being named: ``category`` from ``tool``, ``use_case`` from ``tool``
and ``cloud`` (:mod:`pullstats.client_categories`).

Users (docs/data-definitions.md): a signed-in user is a distinct keyed hash of the registry's
user name; an anonymous one a distinct address hash among the actions without a user, version
checks included. A user seen both ways counts in both columns.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The route's ``group`` values, in the order grouping names list them.
DIMENSIONS = ("repo", "tag", "country", "cloud", "tool", "category", "use_case")

#: A dimension's column in the rollup rows.
COLUMNS = {
    "repo": "repository",
    "tag": "tag",
    "country": "country",
    "cloud": "cloud",
    "tool": "tool",
    "category": "category",
    "use_case": "use_case",
}

_ONE = ("country", "cloud", "tool", "category", "use_case")

#: Docker's Trends report's grain: what the ``trends`` dataset exports.
REPORT_GROUPING = ("repo", "tag", "country", "cloud", "tool")

#: Every grouping stored: the namespace's total, each dimension alone, a repository by each
#: dimension (its tags included), and the report's grain.
GROUPINGS: tuple[tuple[str, ...], ...] = (
    (),
    ("repo",),
    *((d,) for d in _ONE),
    *(("repo", d) for d in ("tag", *_ONE)),
    REPORT_GROUPING,
)


def name(dimensions: Iterable[str]) -> str:
    """A grouping's name: its dimensions in :data:`DIMENSIONS` order, comma-joined."""
    chosen = set(dimensions)
    return ",".join(d for d in DIMENSIONS if d in chosen)


class UnknownGrouping(ValueError):
    """A ``group`` the rollup does not hold; the message lists what may be asked."""


def grouping_of(group: Iterable[str]) -> tuple[str, ...]:
    """The stored grouping that answers ``group`` (the route's values): a tag is always of a
    repository, and a dimension that follows from the others asked for adds nothing.
    :class:`UnknownGrouping` for a value not in :data:`DIMENSIONS` or a combination not
    stored."""
    asked = set(group)
    unknown = sorted(asked - set(DIMENSIONS))
    if unknown:
        raise UnknownGrouping(f"unknown group {', '.join(unknown)}: use {', '.join(DIMENSIONS)}")
    if "tag" in asked:
        asked.add("repo")
    if "tool" in asked:
        asked.discard("category")
        if "cloud" in asked:
            asked.discard("use_case")
    chosen = tuple(d for d in DIMENSIONS if d in asked)
    if chosen not in GROUPINGS:
        allowed = "; ".join(name(g) or "(none)" for g in GROUPINGS)
        raise UnknownGrouping(
            f"group {name(chosen)} is not kept: group by one of "
            f"{', '.join(_ONE)}, repo or tag, or repo with one of them, or all of "
            f"{', '.join(REPORT_GROUPING)} ({allowed})"
        )
    return chosen


def shown(grouping: tuple[str, ...]) -> tuple[str, ...]:
    """The dimensions a grouping's rows fill: its own and those that follow from them."""
    filled = set(grouping)
    if "tool" in filled:
        filled.add("category")
        if "cloud" in filled:
            filled.add("use_case")
    return tuple(d for d in DIMENSIONS if d in filled)


def _named(dimension: str) -> str:
    """SQL: the dimension's name when its grouping set names it, else NULL."""
    grouped = f"grouping({COLUMNS[dimension]}) = 0"
    if dimension == "category":
        grouped += " AND grouping(tool) = 1"
    if dimension == "use_case":
        grouped += " AND (grouping(tool) = 1 OR grouping(cloud) = 1)"
    return f"CASE WHEN {grouped} THEN '{dimension}' END"


def trends_sql() -> str:
    """``rollups.trends``: a row per stored grouping of the period's ``actions``.

    Each client's actions are first counted per cell of the report's grain (one row per
    dimension values and user); the grouping sets then add the cells up per user, and the
    last step counts the users. Two plain groupings, where a distinct count per grouping set
    would be many: a few times faster on a month of actions.
    """
    columns = [COLUMNS[d] for d in DIMENSIONS]
    sets = ",\n        ".join(
        "(" + ", ".join(["namespace", *(COLUMNS[d] for d in shown(g)), "who", "signed_in"]) + ")"
        for g in GROUPINGS
    )
    names = ",\n            ".join(_named(d) for d in DIMENSIONS)
    outer = ", ".join(f"coalesce({c}, '') AS {c}" for c in columns)
    return f"""-- rollups.trends: a period's pulls and users per stored grouping (rollups/trends.py)
WITH cells AS (
    SELECT
        namespace,
        repository,
        coalesce(tag, '') AS tag,
        country_code(country) AS country,
        coalesce(host, '') AS cloud,
        coalesce(user_agent_tool, '') AS tool,
        user_hash IS NOT NULL AS signed_in,
        coalesce(user_hash, ip_hash) AS who,
        count(*) FILTER (WHERE action <> 'version_check') AS data_downloads,
        count(*) FILTER (WHERE action = 'version_check') AS version_checks
    FROM actions
    GROUP BY namespace, repository, tag, country, cloud, tool, signed_in, who
), classified AS (
    SELECT *, client_category(tool) AS category, use_case(tool, cloud) AS use_case
    FROM cells
), per_user AS (
    SELECT
        concat_ws(',',
            {names}
        ) AS grouped_by,
        namespace, {", ".join(columns)}, who, signed_in,
        sum(data_downloads) AS data_downloads,
        sum(version_checks) AS version_checks
    FROM classified
    GROUP BY GROUPING SETS (
        {sets}
    )
)
SELECT
    grouped_by,
    namespace,
    {outer},
    CAST(sum(data_downloads) AS BIGINT) AS data_downloads,
    CAST(sum(version_checks) AS BIGINT) AS version_checks,
    CAST(count(who) FILTER (WHERE signed_in) AS BIGINT) AS unique_authenticated_users,
    CAST(count(who) FILTER (WHERE NOT signed_in) AS BIGINT) AS unique_unauthenticated_users
FROM per_user
GROUP BY grouped_by, namespace, {", ".join(columns)}
"""
