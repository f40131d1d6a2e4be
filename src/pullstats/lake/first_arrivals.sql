-- lake.first_arrivals: the batch with one record per id, the first to arrive (by recv).
-- A registry retries a notification with the same id; its first arrival is the one kept.
SELECT *
FROM batch
QUALIFY row_number() OVER (PARTITION BY id ORDER BY recv) = 1
