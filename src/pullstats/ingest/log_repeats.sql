-- ingest.log_repeats: the request texts (ids) of this call to number, with the occurrences
-- before it: a text repeated within the call and never seen before (carried 0), or one the
-- previous call held (carried: how often it was seen there and before).
-- Nearly every line is unique, so repeats are found by a 64-bit hash of the id first, and the
-- exact grouping runs on a handful of rows.
WITH requests AS (SELECT id FROM log_lines WHERE reason IS NULL)
SELECT id, 0 AS carried FROM requests
WHERE hash(id) IN (SELECT hash(id) FROM requests GROUP BY 1 HAVING count(*) > 1)
GROUP BY id HAVING count(*) > 1 AND id NOT IN (SELECT id FROM log_seen)
UNION ALL
SELECT id, k AS carried FROM log_seen WHERE id IN (SELECT id FROM requests)
