-- ingest.log_errors: the first $limit bad lines of a call (their reason one of $reasons), in
-- line order, each with its text as reported: the line without its end, cut to 160 characters,
-- or the client address when the address was found invalid after classification.
SELECT n, reason, coalesce(left(rtrim(line, E'\r\n'), 160), 'client address ' || ip) AS text
FROM log_lines
WHERE list_contains($reasons, reason)
ORDER BY n
LIMIT $limit
