-- lake.repeats: one row if an id may appear twice in the batch, else none.
-- Grouping by a hash of the id finds repeats cheaply; a collision only means the
-- first-arrivals step (lake.first_arrivals) runs for nothing.
SELECT 1 AS repeated
FROM batch
GROUP BY hash(id)
HAVING count(*) > 1
LIMIT 1
