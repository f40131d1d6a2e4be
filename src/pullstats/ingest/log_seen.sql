-- ingest.log_seen: how often each text of the last call's requests has been seen, that call
-- and the earlier ones counted, carried to the next call (log_previous: the last call's ids as
-- classified, every one ending in -1; log_repeats: that call's texts seen before it).
SELECT id, coalesce(any_value(carried), 0) + count(*) AS k
FROM log_previous LEFT JOIN log_repeats USING (id)
GROUP BY id
