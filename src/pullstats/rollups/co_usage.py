"""Co-usage (Docker's *Technographic* report): which other repositories the users of a
repository also pulled in a period, the step ``rollups.co_usage``. Pure.

A user is a signed-in user's hash, or for an anonymous action its address hash (as in the
trends, docs/data-definitions.md); an action with neither (an imported Docker Hub raw row) is
no one. For each pair of repositories with at least :data:`MIN_USERS` users in common, the rollup
keeps the users of both and the repository's own users. A pair below it is never stored, so no
count of fewer than ten users can leave the rollup (Docker reports only such pairs too).

Which pairs a namespace may see is decided at export (exports/closing.py): pairings with its own
repositories, and with repositories the operator has published (``pullstats repos publish``).
"""

from __future__ import annotations

#: The fewest users of both repositories a pair is kept with.
MIN_USERS = 10


def co_usage_sql() -> str:
    """``rollups.co_usage``: a row per (repository, paired repository) of the period's
    ``actions`` with at least ``MIN_USERS`` users in common, each way round."""
    return f"""-- rollups.co_usage: pairs of repositories with {MIN_USERS} or more users in common
WITH users AS (
    SELECT DISTINCT namespace, repository, coalesce(user_hash, ip_hash) AS who
    FROM actions
    WHERE coalesce(user_hash, ip_hash) IS NOT NULL
), totals AS (
    SELECT namespace, repository, count(*) AS total_users
    FROM users
    GROUP BY namespace, repository
), pairs AS (
    SELECT
        a.namespace,
        a.repository,
        b.namespace AS paired_namespace,
        b.repository AS paired_repository,
        count(*) AS users
    FROM users AS a
    JOIN users AS b
        ON a.who = b.who AND (a.namespace <> b.namespace OR a.repository <> b.repository)
    GROUP BY a.namespace, a.repository, b.namespace, b.repository
    HAVING count(*) >= {MIN_USERS}
)
SELECT
    p.namespace,
    p.repository,
    p.paired_namespace,
    p.paired_repository,
    CAST(p.users AS BIGINT) AS users,
    CAST(t.total_users AS BIGINT) AS total_users
FROM pairs AS p
JOIN totals AS t ON p.namespace = t.namespace AND p.repository = t.repository
"""
