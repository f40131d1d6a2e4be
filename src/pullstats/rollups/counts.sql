-- rollups.counts: a period's counts at the three levels, one row per
-- (level, namespace, repository, reference); repository and reference are '' above their level.
-- `actions`: the period's actions (classified, and Docker Hub raw rows with ruleset_version 0);
-- `summaries`: the period's imported Docker Hub summary rows. The rules: rollups/compute.py.
WITH lake AS (
    SELECT
        CASE WHEN grouping(repository) = 1 THEN 'namespace'
             WHEN grouping(reference) = 1 THEN 'repository'
             ELSE 'reference' END AS level,
        namespace,
        coalesce(repository, '') AS repository,
        coalesce(reference, '') AS reference,
        count(*) FILTER (WHERE action = 'pull_by_tag') AS pull_by_tag,
        count(*) FILTER (WHERE action = 'pull_by_digest') AS pull_by_digest,
        count(*) FILTER (WHERE action = 'version_check') AS version_check,
        count(DISTINCT ip_hash) AS unique_ip_count,
        count(*) FILTER (WHERE ruleset_version = 0) AS imported -- Docker Hub raw rows
    FROM actions
    GROUP BY GROUPING SETS (
        (namespace), (namespace, repository), (namespace, repository, reference)
    )
), hub AS (
    -- the same summary downloaded twice is one population: the largest value, never the sum
    SELECT
        level,
        namespace,
        repository,
        reference,
        max(pull_by_tag) AS pull_by_tag,
        max(pull_by_digest) AS pull_by_digest,
        max(version_check) AS version_check,
        max(unique_ip_count) AS unique_ip_count
    FROM summaries
    GROUP BY level, namespace, repository, reference
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
    -- disjoint sources: the one place distinct counts are added
    coalesce(lake.unique_ip_count, 0) + coalesce(hub.unique_ip_count, 0) AS unique_ip_count
FROM lake FULL OUTER JOIN hub USING (level, namespace, repository, reference)
