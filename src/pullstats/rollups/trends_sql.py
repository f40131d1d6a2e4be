"""The trends rollup's step, ``rollups.trends``, as SQL: every stored grouping
(:data:`pullstats.rollups.trends.GROUPINGS`) of a period's actions and imported DVP Core Trends
rows in one query. What the rows mean (groupings, the sets of client categories, users) is
:mod:`pullstats.rollups.trends`; how they are counted is :func:`trends_sql`. Pure.
"""

from __future__ import annotations

from pullstats.client_categories import category_bit_sql
from pullstats.rollups.trends import COLUMNS, DIMENSIONS, GROUPINGS, REPORT_GROUPING, name, shown


def _grouping_id(grouping: tuple[str, ...]) -> int:
    """The number of ``grouping``'s rows in the SQL (:data:`_GROUPING_ID`): a bit per
    dimension its rows do not fill, the first of :data:`DIMENSIONS` the highest."""
    filled = set(shown(grouping))
    last = len(DIMENSIONS) - 1
    return sum(1 << (last - i) for i, d in enumerate(DIMENSIONS) if d not in filled)


#: SQL, in a grouping-sets query over the dimensions' columns: which grouping a row is of
#: (:func:`_grouping_id`). ``grouping()`` of each column rather than ``grouping_id(...)``, whose
#: arguments Spark wants to be all the grouping columns.
_GROUPING_ID = " + ".join(
    f"grouping({COLUMNS[d]}) * {1 << (len(DIMENSIONS) - 1 - i)}" for i, d in enumerate(DIMENSIONS)
)

#: SQL, in a grouping-sets query: the repository level of a row, 3 for the namespace's, 1 for a
#: repository's and 0 for a tag's (what a client's rows are first counted at: ``trends_sql``).
_LEVEL = "grouping(repository) * 2 + grouping(tag)"


def _level(grouping: tuple[str, ...]) -> int:
    """The repository level of ``grouping``'s rows, as :data:`_LEVEL` numbers them."""
    filled = set(shown(grouping))
    return ("repo" not in filled) * 2 + ("tag" not in filled)


def _groupings_table() -> str:
    """A FROM item of every stored grouping: its number (:func:`_grouping_id`), its level
    (:data:`_LEVEL`) and, for each dimension, whether its rows fill it (``keep_…``)."""
    rows = ",\n        ".join(
        "("
        + ", ".join(
            [str(_grouping_id(g)), str(_level(g))]
            + [str(d in shown(g)).lower() for d in DIMENSIONS]
        )
        + ")"
        for g in GROUPINGS
    )
    keeps = ", ".join(f"keep_{d}" for d in DIMENSIONS)
    return f"(VALUES\n        {rows}\n    ) AS g(grouping_id, level, {keeps})"


def _kept(source: str) -> str:
    """The dimensions' columns of ``source``'s row as grouping ``g`` has them: NULL where its
    rows do not fill the dimension, as a grouping set leaves it."""
    return ", ".join(
        f"CASE WHEN g.keep_{d} THEN {source}.{COLUMNS[d]} END AS {COLUMNS[d]}" for d in DIMENSIONS
    )


def trends_sql() -> str:
    """``rollups.trends``: the rows of every stored grouping of the period's ``actions`` and
    imported DVP Core Trends rows (``trends``), one per grouping cell and set of client
    categories (``categories``).

    Each user's actions are first counted per cell of the finest grain (``cells``: one row
    per dimension values and user). Users are then counted in two ways, which add up because
    each user of a namespace is in one of them:

    - **One client** (``one_client``: one country, one cloud and one tool in the namespace
      over the period, most users): such a user is in one cell of every grouping for each of
      its repositories, or tags, with one category. So its users are counted once per
      namespace, repository and tag (``per_level``, ``level_counts``), and every grouping is
      a *sum* of those counts over the client dimensions it leaves out (``summed_rows``).
      Each level's counts are joined to the groupings of that level (:func:`_groupings_table`)
      and summed in one ``GROUP BY``. As 47 grouping sets of every level's rows, DuckDB
      planned and ran about 750 operators for them: 40 ms more for each period, however few
      its actions.
    - **Several clients**: every grouping is computed per user (``per_user``: each grouping
      cell with the set of categories the user pulled with there), and the users counted
      (``several_clients_rows``). Two plain groupings, where a distinct count per grouping
      set would be many.

    The month of the benchmark has a fifth of its (cell, user) pairs in the second way, and
    the step took less than half the time of the per-user way for all users.

    An imported Trends row is a cell of Docker's grain, already counted: its pulls add to every
    grouping, its users only to the grain, the one grouping Docker counted them at (they are
    another population than the lake's, as an imported summary's unique IPs are). So it joins
    the sums at each level (``reported_levels``), its users apart, added at the grain only. A
    repository whose imported Docker Hub raw rows are in the actions takes its Hub pulls from
    those, and a report downloaded twice is one population (the largest value, never the sum),
    as in the other rollups. Those raw rows have no user: their pulls count, and no user.
    """
    columns = ", ".join(COLUMNS[d] for d in DIMENSIONS)
    client = "country, cloud, tool, category, use_case, bit"

    def sets(*extra: str) -> str:
        return ",\n        ".join(
            "(" + ", ".join(["namespace", *(COLUMNS[d] for d in shown(g)), *extra]) + ")"
            for g in GROUPINGS
        )

    names = " ".join(f"WHEN {_grouping_id(g)} THEN '{name(g)}'" for g in GROUPINGS)
    outer = ", ".join(f"coalesce({COLUMNS[d]}, '') AS {COLUMNS[d]}" for d in DIMENSIONS)
    grain = _grouping_id(REPORT_GROUPING)
    groupings = _groupings_table()
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
), clients AS (
    -- country, cloud and tool are never NULL here: a user of one client has one of each
    SELECT
        namespace, who, signed_in,
        count(DISTINCT country) = 1
            AND count(DISTINCT cloud) = 1
            AND count(DISTINCT tool) = 1 AS one_client
    FROM cells
    GROUP BY namespace, who, signed_in
), marked AS (
    SELECT c.*, {category_bit_sql("c.category")} AS bit, k.one_client
    FROM (
        SELECT *, client_category(tool) AS category, use_case(tool, cloud) AS use_case
        FROM cells
    ) AS c
    JOIN clients AS k
        ON c.namespace = k.namespace
        AND c.who IS NOT DISTINCT FROM k.who
        AND c.signed_in = k.signed_in
), per_level AS (
    SELECT
        {_LEVEL} AS level,
        namespace, repository, tag, {client}, who, signed_in,
        sum(data_downloads) AS data_downloads,
        sum(version_checks) AS version_checks
    FROM marked
    WHERE one_client
    GROUP BY GROUPING SETS (
        (namespace, {client}, who, signed_in),
        (namespace, repository, {client}, who, signed_in),
        (namespace, repository, tag, {client}, who, signed_in)
    )
), level_counts AS (
    SELECT
        level, namespace, repository, tag, {client},
        sum(data_downloads) AS data_downloads,
        sum(version_checks) AS version_checks,
        count(who) FILTER (WHERE signed_in) AS signed_in_users,
        count(who) FILTER (WHERE NOT signed_in) AS anonymous_users,
        0 AS reported_signed_in,
        0 AS reported_anonymous
    FROM per_level
    GROUP BY level, namespace, repository, tag, {client}
), imported_repositories AS (
    SELECT DISTINCT namespace, repository FROM actions WHERE ruleset_version = 0
), per_file AS (
    SELECT
        t.namespace,
        t.repository,
        coalesce(t.tag, '') AS tag,
        country_code(t.country) AS country,
        coalesce(t.cloud_provider, '') AS cloud,
        reported_tool(t.user_agent) AS tool,
        t.filename,
        sum(t.data_downloads) AS data_downloads,
        sum(t.version_checks) AS version_checks,
        sum(coalesce(t.unique_authenticated_users, 0)) AS signed_in,
        sum(coalesce(t.unique_unauthenticated_users, 0)) AS anonymous
    FROM trends AS t
    LEFT JOIN imported_repositories AS i
        ON t.namespace = i.namespace AND t.repository = i.repository
    WHERE i.namespace IS NULL
    GROUP BY t.namespace, t.repository, tag, country, cloud, tool, t.filename
), reported AS (
    SELECT
        namespace, repository, tag, {client},
        data_downloads, version_checks, signed_in, anonymous
    FROM (
        SELECT *, {category_bit_sql("category")} AS bit
        FROM (
            SELECT
                namespace, repository, tag, country, cloud, tool,
                client_category(tool) AS category,
                use_case(tool, cloud) AS use_case,
                max(data_downloads) AS data_downloads,
                max(version_checks) AS version_checks,
                max(signed_in) AS signed_in,
                max(anonymous) AS anonymous
            FROM per_file
            GROUP BY namespace, repository, tag, country, cloud, tool
        )
    )
), reported_levels AS (
    -- an imported row at each level, its users at the tag's only: the grain is of a tag
    SELECT 0 AS level, namespace, repository, tag, {client}, data_downloads, version_checks,
        0 AS signed_in_users, 0 AS anonymous_users, signed_in, anonymous
    FROM reported
    UNION ALL
    SELECT 1, namespace, repository, NULL, {client}, data_downloads, version_checks,
        0, 0, 0, 0
    FROM reported
    UNION ALL
    SELECT 3, namespace, NULL, NULL, {client}, data_downloads, version_checks,
        0, 0, 0, 0
    FROM reported
), summed_rows AS (
    SELECT
        grouping_id, namespace, {columns}, categories, data_downloads, version_checks,
        signed_in_users
            + CASE WHEN grouping_id = {grain} THEN reported_signed_in ELSE 0 END
            AS signed_in_users,
        anonymous_users
            + CASE WHEN grouping_id = {grain} THEN reported_anonymous ELSE 0 END
            AS anonymous_users
    FROM (
        SELECT
            grouping_id, namespace, {columns}, categories,
            sum(data_downloads) AS data_downloads,
            sum(version_checks) AS version_checks,
            sum(signed_in_users) AS signed_in_users,
            sum(anonymous_users) AS anonymous_users,
            sum(reported_signed_in) AS reported_signed_in,
            sum(reported_anonymous) AS reported_anonymous
        FROM (
            -- each level's counts in every grouping of that level
            SELECT g.grouping_id, c.namespace, {_kept("c")}, c.bit AS categories,
                c.data_downloads, c.version_checks, c.signed_in_users, c.anonymous_users,
                c.reported_signed_in, c.reported_anonymous
            FROM (SELECT * FROM level_counts UNION ALL SELECT * FROM reported_levels) AS c
            JOIN {groupings} ON g.level = c.level
        )
        GROUP BY grouping_id, namespace, {columns}, categories
    )
), per_user AS (
    SELECT
        {_GROUPING_ID} AS grouping_id,
        namespace, {columns}, who, signed_in,
        sum(data_downloads) AS data_downloads,
        sum(version_checks) AS version_checks,
        bit_or(bit) AS categories
    FROM marked
    WHERE NOT one_client
    GROUP BY GROUPING SETS (
        {sets("who", "signed_in")}
    )
), several_clients_rows AS (
    SELECT
        grouping_id, namespace, {columns}, categories,
        sum(data_downloads) AS data_downloads,
        sum(version_checks) AS version_checks,
        count(who) FILTER (WHERE signed_in) AS signed_in_users,
        count(who) FILTER (WHERE NOT signed_in) AS anonymous_users
    FROM per_user
    GROUP BY grouping_id, namespace, {columns}, categories
)
SELECT
    CASE grouping_id {names} END AS grouped_by,
    namespace,
    {columns},
    CAST(categories AS INTEGER) AS categories,
    CAST(sum(data_downloads) AS BIGINT) AS data_downloads,
    CAST(sum(version_checks) AS BIGINT) AS version_checks,
    CAST(sum(signed_in_users) AS BIGINT) AS unique_authenticated_users,
    CAST(sum(anonymous_users) AS BIGINT) AS unique_unauthenticated_users
FROM (
    -- a dimension a grouping does not fill is NULL until here, an empty text in the rows
    SELECT grouping_id, namespace, {outer}, categories, data_downloads, version_checks,
        signed_in_users, anonymous_users
    FROM (SELECT * FROM summed_rows UNION ALL SELECT * FROM several_clients_rows)
)
GROUP BY grouping_id, namespace, {columns}, categories
"""
