-- ingest.dockerhub_period_trends: a DVP Core Trends report's importable rows of one period
-- ($kind, starting $start) as they were, in the lake's columns (lake_schema.IMPORTED_TRENDS),
-- in file order: the file's part of the period under lake/imported-trends/.
SELECT
    namespace,
    repository,
    reference AS tag,
    country,
    cloud_provider,
    user_agent,
    pull_by_tag + pull_by_digest AS data_downloads,
    version_check AS version_checks,
    unique_authenticated_users,
    unique_unauthenticated_users
FROM parsed
WHERE problem IS NULL AND level = 'trend' AND period_kind = $kind AND period_start = $start
ORDER BY rn
