-- ingest.dockerhub_problems: a Docker Hub file's rows that cannot be imported, counted by
-- problem (parsed: the file's rows, from ingest.dockerhub_raw or ingest.dockerhub_summary).
SELECT problem, count(*) AS row_count FROM parsed WHERE problem IS NOT NULL GROUP BY problem
