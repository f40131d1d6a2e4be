-- rollups.countries: a period's counts by country at namespace and repository level
-- (breakdown=country). `actions`: the period's actions; `trends`: the period's imported
-- Docker DVP Core Trends rows, with the file each came from (the legacy summaries and the
-- Summary report carry no country). country_code (the step's function): an unknown country is
-- 'ZZ', and so is anything but two letters (an imported "Germany" would not fit the catalog).
WITH lake AS (
    SELECT
        CASE WHEN grouping(repository) = 1 THEN 'namespace' ELSE 'repository' END AS level,
        namespace,
        coalesce(repository, '') AS repository,
        country,
        count(*) FILTER (WHERE action = 'pull_by_tag') AS pull_by_tag,
        count(*) FILTER (WHERE action = 'pull_by_digest') AS pull_by_digest,
        count(*) FILTER (WHERE action = 'version_check') AS version_check,
        count(DISTINCT ip_hash) AS unique_ip_count,
        count(*) FILTER (WHERE ruleset_version = 0) AS imported -- Docker Hub raw rows
    FROM (
        SELECT
            namespace,
            repository,
            country_code(country) AS country,
            action,
            ip_hash,
            ruleset_version
        FROM actions
    )
    GROUP BY GROUPING SETS ((namespace, country), (namespace, repository, country))
), per_file AS (
    -- a Trends row's downloads are pulls by tag, or by digest when it has no tag
    SELECT
        CASE WHEN grouping(repository) = 1 THEN 'namespace' ELSE 'repository' END AS level,
        namespace,
        coalesce(repository, '') AS repository,
        country,
        sum(CASE WHEN tag <> '' THEN data_downloads ELSE 0 END) AS pull_by_tag,
        sum(CASE WHEN tag = '' THEN data_downloads ELSE 0 END) AS pull_by_digest,
        sum(version_checks) AS version_check
    FROM (
        SELECT
            namespace,
            repository,
            country_code(country) AS country,
            tag,
            data_downloads,
            version_checks,
            filename
        FROM trends
    )
    GROUP BY GROUPING SETS (
        (namespace, country, filename), (namespace, repository, country, filename)
    )
), hub AS (
    -- the same report downloaded twice is one population: the largest value, never the sum
    SELECT
        level,
        namespace,
        repository,
        country,
        max(pull_by_tag) AS pull_by_tag,
        max(pull_by_digest) AS pull_by_digest,
        max(version_check) AS version_check
    FROM per_file
    GROUP BY level, namespace, repository, country
)
SELECT
    level,
    namespace,
    repository,
    country,
    -- as in rollups.counts: imported raw rows, when a key has any, count the same pulls
    CAST(coalesce(lake.pull_by_tag, 0)
        + CASE WHEN coalesce(lake.imported, 0) > 0 THEN 0 ELSE coalesce(hub.pull_by_tag, 0) END
        AS BIGINT) AS pull_by_tag,
    CAST(coalesce(lake.pull_by_digest, 0)
        + CASE WHEN coalesce(lake.imported, 0) > 0 THEN 0 ELSE coalesce(hub.pull_by_digest, 0) END
        AS BIGINT) AS pull_by_digest,
    CAST(coalesce(lake.version_check, 0)
        + CASE WHEN coalesce(lake.imported, 0) > 0 THEN 0 ELSE coalesce(hub.version_check, 0) END
        AS BIGINT) AS version_check,
    -- Docker's reports count users, not addresses
    coalesce(lake.unique_ip_count, 0) AS unique_ip_count
FROM lake FULL OUTER JOIN hub USING (level, namespace, repository, country)
