-- rollups.countries: a period's counts by country at namespace and repository level
-- (breakdown=country), from the lake's actions only (imported summaries carry no country).
-- An unknown country is 'ZZ'.
SELECT
    CASE WHEN grouping(repository) = 1 THEN 'namespace' ELSE 'repository' END AS level,
    namespace,
    coalesce(repository, '') AS repository,
    country,
    count(*) FILTER (WHERE action = 'pull_by_tag') AS pull_by_tag,
    count(*) FILTER (WHERE action = 'pull_by_digest') AS pull_by_digest,
    count(*) FILTER (WHERE action = 'version_check') AS version_check,
    count(DISTINCT ip_hash) AS unique_ip_count
FROM (
    SELECT
        namespace,
        repository,
        CASE WHEN country = '' OR country IS NULL THEN 'ZZ' ELSE upper(country) END AS country,
        action,
        ip_hash
    FROM actions
)
GROUP BY GROUPING SETS ((namespace, country), (namespace, repository, country))
