-- ingest.log_hours: the UTC hours (µs // 3.6e9 since the epoch) a call's requests fall in.
SELECT DISTINCT ts // 3600000000 AS hour FROM log_lines WHERE reason IS NULL
