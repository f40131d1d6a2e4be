-- ingest.log_errors: the first $limit bad lines of each of $reasons in a call, in line order,
-- each with its text as reported: the line without its end, cut to 160 characters, or the
-- client address when the address was found invalid after classification. Each reason's
-- first line numbers are found first (a top-N per group, as fast as the LIMIT over all reasons
-- this replaced; a row_number() window over every bad line took three times as long).
WITH firsts AS (
    SELECT unnest(min(n, $limit)) AS n
    FROM log_lines
    WHERE list_contains($reasons, reason)
    GROUP BY reason
)
SELECT n, reason, coalesce(left(rtrim(line, E'\r\n'), 160), 'client address ' || ip) AS text
FROM log_lines SEMI JOIN firsts USING (n)
ORDER BY n
