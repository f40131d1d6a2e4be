-- lake.new_requests: the batch's requests whose event id the lake does not hold yet
-- (`ids`: the lake's ids of the batch's days and the days either side, from lake.request_ids:
-- an earlier copy of an event may be timed on a neighbouring day).
SELECT *
FROM batch
WHERE id NOT IN (SELECT id FROM ids)
