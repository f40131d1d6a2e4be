-- ingest.dockerhub_core_summaries: a DVP Core report's importable rows of one period ($kind,
-- starting $start) as rollup-level summary rows (lake_schema.IMPORTED_SUMMARIES), the file's
-- part of the period under lake/imported-summaries/. A Summary report's rows are at their level
-- already; a Trends report's rows (level 'trend') are added up per repository and per tag: they
-- split a repository's pulls by country, cloud, client and tag, so their counts add up exactly
-- (their user counts do not, and rollups get none: unique_ip_count 0).
WITH p AS (
    SELECT *
    FROM parsed
    WHERE problem IS NULL AND period_kind = $kind AND period_start = $start
)
SELECT level, namespace, repository, reference, pull_by_tag, pull_by_digest, version_check,
    unique_ip_count
FROM p
WHERE level <> 'trend'
UNION ALL
SELECT
    CASE WHEN grouping(reference) = 1 THEN 'repository' ELSE 'reference' END AS level,
    namespace,
    repository,
    coalesce(reference, '') AS reference,
    CAST(sum(pull_by_tag) AS BIGINT) AS pull_by_tag,
    CAST(sum(pull_by_digest) AS BIGINT) AS pull_by_digest,
    CAST(sum(version_check) AS BIGINT) AS version_check,
    CAST(0 AS BIGINT) AS unique_ip_count
FROM p
WHERE level = 'trend'
GROUP BY GROUPING SETS ((namespace, repository), (namespace, repository, reference))
-- a row with no tag (pulled by digest) counts for its repository, not as a reference ''
HAVING grouping(reference) = 1 OR reference <> ''
ORDER BY level, namespace, repository, reference
