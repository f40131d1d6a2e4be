-- ingest.dockerhub_days: the days of a raw Docker Hub file's importable actions, each with its
-- count of actions, in order.
SELECT action_day, count(*) AS row_count
FROM parsed
WHERE problem IS NULL
GROUP BY action_day
ORDER BY action_day
