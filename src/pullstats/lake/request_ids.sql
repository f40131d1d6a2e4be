-- lake.request_ids: the event id of every request already in the lake's `requests` given
-- (the files of the days a batch touches and of the days either side).
SELECT id
FROM requests
