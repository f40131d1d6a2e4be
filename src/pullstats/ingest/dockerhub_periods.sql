-- ingest.dockerhub_periods: the periods (kind and first day) of a Docker Hub summary file's
-- importable rows, each with its count of rows, by first day and then kind.
SELECT period_kind, period_start, count(*) AS row_count
FROM parsed
WHERE problem IS NULL
GROUP BY period_kind, period_start
ORDER BY period_start, period_kind
