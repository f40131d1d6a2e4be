-- ingest.log_errors: the first $limit bad lines of each of $reasons in a call, in line order,
-- each with its text as reported: the line without its end, cut to 160 characters, or the
-- client address when the address was found invalid after classification. Each reason's first
-- line numbers are found first, from the narrow columns: numbering every bad line with its
-- text took twice to four times as long as the LIMIT over all reasons this replaced.
WITH firsts AS (
    SELECT n
    FROM log_lines
    WHERE list_contains($reasons, reason)
    QUALIFY row_number() OVER (PARTITION BY reason ORDER BY n) <= $limit
)
SELECT n, reason, coalesce(left(rtrim(line, E'\r\n'), 160), 'client address ' || ip) AS text
FROM log_lines
WHERE n IN (SELECT n FROM firsts)
ORDER BY n
