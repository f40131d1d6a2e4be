-- lake.batch_days: the days the batch's requests are on (days since the epoch, UTC), each
-- with its earliest request time (microseconds since the epoch, as the spool holds it).
-- 86400000000: the microseconds of a day.
SELECT ts // 86400000000 AS day, min(ts) AS earliest
FROM batch
GROUP BY ts // 86400000000
