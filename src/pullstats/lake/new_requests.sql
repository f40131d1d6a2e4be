-- lake.new_requests: the batch's requests whose event id the lake does not hold yet
-- (`ids`: the lake's ids of the batch's days, from lake.request_ids).
SELECT *
FROM batch
WHERE id NOT IN (SELECT id FROM ids)
