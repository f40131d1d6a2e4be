"""The trends rollup: a period's pulls and exact distinct users by repository, tag, client
country, cloud provider, client tool, client category and use case (the step
``rollups.trends``, whose SQL is :mod:`pullstats.rollups.trends_sql`): the groupings it keeps,
their names, and the route's ``group`` mapped onto them. Pure.

A distinct count never adds up from finer rows, so every grouping the trends route may be asked
for is computed and stored on its own (:data:`GROUPINGS`: 47 of them). A grouping is named by
its dimensions in :data:`DIMENSIONS` order, comma-joined (``""`` is the namespace's total,
``country,cloud`` a split by country and cloud, ``repo,tag,country,cloud,tool`` Docker's Trends
report's grain). Every combination of repository, country, cloud, tool, category and use case is
kept; a tag only with its repository, alone or by category, or at the report's grain. A
dimension that follows from others comes with them without being named: ``category`` from
``tool``, ``use_case`` from ``tool`` and ``cloud`` (:mod:`pullstats.client_categories`).

Leaving client categories out (``exclude=scanner,bot``) stays exact: a grouping's cell has a row
per *set of categories* its users pulled with (``categories``, one integer:
:func:`pullstats.client_categories.category_bit`), so the users left are those of the rows whose
set holds another category, and each user is in one row only. Pulls left are read from the
grouping with ``category`` added, where each row is one category's.

Users (docs/data-definitions.md): a signed-in user is a distinct keyed hash of the registry's
user name; an anonymous one a distinct address hash among the actions without a user, version
checks included. A user seen both ways counts in both columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

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

#: Docker's Trends report's grain: what the ``trends`` dataset exports.
REPORT_GROUPING = ("repo", "tag", "country", "cloud", "tool")


def _normal(asked: Iterable[str]) -> tuple[str, ...]:
    """``asked`` as a stored grouping: a tag is always of a repository, and a dimension that
    follows from the others asked for adds nothing."""
    chosen = set(asked)
    if "tag" in chosen:
        chosen.add("repo")
    if "tool" in chosen:
        chosen.discard("category")
        if "cloud" in chosen:
            chosen.discard("use_case")
    return tuple(d for d in DIMENSIONS if d in chosen)


#: The dimensions of a client and its network: any combination of them is a grouping.
_CLIENT = ("country", "cloud", "tool", "category", "use_case")

#: Every grouping stored, the fewest dimensions first: each combination of :data:`_CLIENT`,
#: of the namespace or per repository (44), a repository's tags, alone or by client category
#: (where ``exclude`` reads a tag's pulls), and the report's grain. A tag with other dimensions
#: is at the grain only: tags are the many values, and every combination of them would be most
#: of the rows (three times as many as all the others on the benchmark month).
GROUPINGS: tuple[tuple[str, ...], ...] = tuple(
    sorted(
        {
            _normal((*repo, *c))
            for repo in ((), ("repo",))
            for n in range(len(_CLIENT) + 1)
            for c in combinations(_CLIENT, n)
        }
        | {("repo", "tag"), ("repo", "tag", "category"), REPORT_GROUPING},
        key=lambda g: (len(g), [DIMENSIONS.index(d) for d in g]),
    )
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
    :class:`UnknownGrouping` for a value not in :data:`DIMENSIONS`, or a combination not
    stored (a tag with some of the report's grain)."""
    asked = set(group)
    unknown = sorted(asked - set(DIMENSIONS))
    if unknown:
        raise UnknownGrouping(f"unknown group {', '.join(unknown)}: use {', '.join(DIMENSIONS)}")
    chosen = _normal(asked)
    if chosen not in GROUPINGS:
        raise UnknownGrouping(
            f"group {name(chosen)} is not kept: a tag goes with repo and category only, or "
            f"with all of {', '.join(REPORT_GROUPING)} (Docker's Trends report); any "
            f"combination of repo, {', '.join(_CLIENT)} is kept"
        )
    return chosen


def with_category(grouping: tuple[str, ...]) -> tuple[str, ...]:
    """The grouping whose rows split ``grouping``'s by client category (itself when its rows
    are one category's already): where the pulls left by ``exclude`` are read."""
    return _normal((*grouping, "category"))


def shown(grouping: tuple[str, ...]) -> tuple[str, ...]:
    """The dimensions a grouping's rows fill: its own and those that follow from them."""
    filled = set(grouping)
    if "tool" in filled:
        filled.add("category")
        if "cloud" in filled:
            filled.add("use_case")
    return tuple(d for d in DIMENSIONS if d in filled)
