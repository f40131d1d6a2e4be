-- ingest.log_reasons: a call's lines counted by the reason each was skipped (NULL: a request).
SELECT reason, count(*) AS line_count FROM log_lines GROUP BY reason
