-- ingest.log_repeats: the request texts (ids) of this call to number, with the occurrences
-- before it: a text repeated within the call and never seen before (carried 0), or one the
-- previous call held (carried: how often it was seen there and before).
-- Nearly every line is unique, so repeats are found by a 64-bit hash of the id first, and the
-- exact grouping runs on a handful of rows. The call's requests are read from log_lines each
-- time, not through a common table: DuckDB materialises one named three times, a copy of
-- every id (0.24-0.34 s against 0.10-0.15 s for 2 M requests).
WITH repeated AS (
    SELECT hash(id) AS h FROM log_lines WHERE reason IS NULL GROUP BY 1 HAVING count(*) > 1
)
SELECT id, 0 AS carried FROM log_lines
WHERE reason IS NULL AND hash(id) IN (SELECT h FROM repeated)
GROUP BY id HAVING count(*) > 1 AND id NOT IN (SELECT id FROM log_seen)
UNION ALL
SELECT id, k AS carried FROM log_seen
WHERE id IN (SELECT id FROM log_lines WHERE reason IS NULL)
