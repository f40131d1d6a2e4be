-- ingest.dockerhub_problem_rows: the first $limit rows of a Docker Hub file that cannot be
-- imported, in file order, with their problem and the detail to show.
SELECT rn, problem, detail FROM parsed WHERE problem IS NOT NULL ORDER BY rn LIMIT $limit
