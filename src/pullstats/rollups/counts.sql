-- rollups.counts: a period's counts at the three levels, one row per
-- (level, namespace, repository, reference); repository and reference are '' above their level.
-- `actions`: the period's actions (classified, and Docker Hub raw rows with ruleset_version 0);
-- `summaries`: the period's imported Docker Hub summary rows. The rules: rollups/compute.py.
-- Users (docs/data-definitions.md): authenticated = distinct user hashes; unauthenticated =
-- distinct address hashes of the actions without a user (version checks included, as for
-- unique IPs). Only the lake knows them: imported history adds none.
WITH per_client AS (
    -- each client's actions per reference first: the distinct counts below then run over a
    -- fifth as many rows (a month of the benchmark: 889 k actions, 187 k of these), which
    -- halves the step's time with three distinct counts
    SELECT
        namespace,
        repository,
        reference,
        ip_hash,
        user_hash,
        count(*) FILTER (WHERE action = 'pull_by_tag') AS pull_by_tag,
        count(*) FILTER (WHERE action = 'pull_by_digest') AS pull_by_digest,
        count(*) FILTER (WHERE action = 'version_check') AS version_check,
        count(*) FILTER (WHERE ruleset_version = 0) AS imported -- Docker Hub raw rows
    FROM actions
    GROUP BY namespace, repository, reference, ip_hash, user_hash
), lake AS (
    SELECT
        CASE WHEN grouping(repository) = 1 THEN 'namespace'
             WHEN grouping(reference) = 1 THEN 'repository'
             ELSE 'reference' END AS level,
        namespace,
        coalesce(repository, '') AS repository,
        coalesce(reference, '') AS reference,
        CAST(sum(pull_by_tag) AS BIGINT) AS pull_by_tag,
        CAST(sum(pull_by_digest) AS BIGINT) AS pull_by_digest,
        CAST(sum(version_check) AS BIGINT) AS version_check,
        count(DISTINCT ip_hash) AS unique_ip_count,
        count(DISTINCT user_hash) AS unique_authenticated_users,
        count(DISTINCT CASE WHEN user_hash IS NULL THEN ip_hash END)
            AS unique_unauthenticated_users,
        CAST(sum(imported) AS BIGINT) AS imported
    FROM per_client
    GROUP BY GROUPING SETS (
        (namespace), (namespace, repository), (namespace, repository, reference)
    )
), ranked AS (
    -- the files of one period describe one population (a summary downloaded twice, a Summary
    -- and a Trends report): never the sum. Pulls are one pair, from the file that counts the
    -- most of them, and of those the one that splits them most finely (the Summary report
    -- counts a repository's digest pulls by tag): the larger of each column alone would add
    -- one file's digest pulls to another's pulls by tag that already hold them
    SELECT
        *,
        row_number() OVER (
            PARTITION BY level, namespace, repository, reference
            ORDER BY pull_by_tag + pull_by_digest DESC, pull_by_digest DESC
        ) AS pulls_rank
    FROM summaries
), given AS (
    -- version checks and unique IPs: the largest value
    SELECT
        level,
        namespace,
        repository,
        reference,
        max(CASE WHEN pulls_rank = 1 THEN pull_by_tag END) AS pull_by_tag,
        max(CASE WHEN pulls_rank = 1 THEN pull_by_digest END) AS pull_by_digest,
        max(version_check) AS version_check,
        max(unique_ip_count) AS unique_ip_count
    FROM ranked
    GROUP BY level, namespace, repository, reference
), repositories AS (
    -- a repository no summary gives a row of its own is the sum of its references (tags and
    -- digests split its pulls), and a namespace the sum of its repositories: pull counts add
    -- up; unique IPs do not, so those rows have none (0, as the contract has no "unknown")
    SELECT level, namespace, repository, reference, pull_by_tag, pull_by_digest,
        version_check, unique_ip_count
    FROM given
    WHERE level = 'repository'
    UNION ALL
    SELECT 'repository', r.namespace, r.repository, '', CAST(sum(r.pull_by_tag) AS BIGINT),
        CAST(sum(r.pull_by_digest) AS BIGINT), CAST(sum(r.version_check) AS BIGINT),
        CAST(0 AS BIGINT)
    FROM given AS r
    LEFT JOIN (SELECT namespace, repository FROM given WHERE level = 'repository') AS s
        ON r.namespace = s.namespace AND r.repository = s.repository
    WHERE r.level = 'reference' AND s.namespace IS NULL
    GROUP BY r.namespace, r.repository
), hub AS (
    SELECT * FROM given WHERE level <> 'repository'
    UNION ALL
    SELECT * FROM repositories
    UNION ALL
    SELECT 'namespace', r.namespace, '', '', CAST(sum(r.pull_by_tag) AS BIGINT),
        CAST(sum(r.pull_by_digest) AS BIGINT), CAST(sum(r.version_check) AS BIGINT),
        CAST(0 AS BIGINT)
    FROM repositories AS r
    LEFT JOIN (SELECT namespace FROM given WHERE level = 'namespace') AS s
        ON r.namespace = s.namespace
    WHERE s.namespace IS NULL
    GROUP BY r.namespace
)
SELECT
    level,
    namespace,
    repository,
    reference,
    -- pulls come from the imported raw rows when a key has any, else from the summary
    coalesce(lake.pull_by_tag, 0)
        + CASE WHEN coalesce(lake.imported, 0) > 0 THEN 0 ELSE coalesce(hub.pull_by_tag, 0) END
        AS pull_by_tag,
    coalesce(lake.pull_by_digest, 0)
        + CASE WHEN coalesce(lake.imported, 0) > 0 THEN 0 ELSE coalesce(hub.pull_by_digest, 0) END
        AS pull_by_digest,
    coalesce(lake.version_check, 0)
        + CASE WHEN coalesce(lake.imported, 0) > 0 THEN 0 ELSE coalesce(hub.version_check, 0) END
        AS version_check,
    -- disjoint sources: the one place distinct counts are added. An imported row with actions
    -- and no IPs has a figure that is not known (a level summed from the one below, a DVP Core
    -- report's): the sum is not known either, and is 0 as that figure is, not this registry's
    -- addresses alone (fewer, beside a repository's known figure, than that repository's)
    CASE
        WHEN hub.unique_ip_count = 0
            AND hub.pull_by_tag + hub.pull_by_digest + hub.version_check > 0 THEN 0
        ELSE coalesce(lake.unique_ip_count, 0) + coalesce(hub.unique_ip_count, 0)
    END AS unique_ip_count,
    coalesce(lake.unique_authenticated_users, 0) AS unique_authenticated_users,
    coalesce(lake.unique_unauthenticated_users, 0) AS unique_unauthenticated_users
FROM lake FULL OUTER JOIN hub USING (level, namespace, repository, reference)
