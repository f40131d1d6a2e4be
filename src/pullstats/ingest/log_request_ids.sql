-- ingest.log_request_ids: the ids of a call's requests as classified (every occurrence -1),
-- kept as log_previous to carry the counts of their texts to the next call.
SELECT id FROM log_lines WHERE reason IS NULL
