-- lake.first_arrivals: the batch with one record per id, the first to arrive (by recv).
-- A registry retries a notification with the same id; its first arrival is the one kept.
-- The spool's columns by name: the row number stays inside.
SELECT id, ts, method, name, tag, digest, ip, ua, src, recv, arrivals.user
FROM (
    SELECT *, row_number() OVER (PARTITION BY id ORDER BY recv) AS arrival
    FROM batch
) AS arrivals
WHERE arrival = 1
