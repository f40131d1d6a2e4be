-- ingest.dockerhub_period_summaries: a Docker Hub summary file's importable rows of one period
-- ($kind, starting $start) in the lake's summary columns (lake_schema.IMPORTED_SUMMARIES), in
-- file order: the file's part of the period under lake/imported-summaries/.
SELECT
    level,
    namespace,
    repository,
    reference,
    pull_by_tag,
    pull_by_digest,
    version_check,
    unique_ip_count
FROM parsed
WHERE problem IS NULL AND period_kind = $kind AND period_start = $start
ORDER BY rn
