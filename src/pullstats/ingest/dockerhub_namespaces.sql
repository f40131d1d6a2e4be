-- ingest.dockerhub_namespaces: the namespaces of a Docker Hub file's importable rows, in order
-- (parsed: the file's rows, from ingest.dockerhub_raw or ingest.dockerhub_summary).
SELECT DISTINCT namespace FROM parsed WHERE problem IS NULL ORDER BY namespace
