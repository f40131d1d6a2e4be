-- lake.requests: the rows of the lake's `requests` table for the batch's requests timed in
-- [$day_start, $day_end) (microseconds since the epoch: one day), in the table's column order.
-- Each request's address hash and enrichment come from `addresses`, its user agent's tool and
-- version from `agents` and its user's hash from `users` (the run's tables, which hold every
-- address, agent and authenticated user of the batch by then; an anonymous request has no
-- user hash). A name without '/' is in the 'library' namespace.
SELECT
    b.id,
    make_timestamp(b.ts) AS ts,
    make_timestamp(b.recv) AS received,
    b.method,
    CASE WHEN strpos(b.name, '/') = 0 THEN 'library'
         ELSE split_part(b.name, '/', 1) END AS namespace,
    CASE WHEN strpos(b.name, '/') = 0 THEN b.name
         ELSE substr(b.name, strpos(b.name, '/') + 1) END AS repository,
    b.tag,
    b.digest,
    a.ip_hash,
    n.user_hash,
    b.ua AS user_agent,
    b.src AS source,
    a.country,
    a.host,
    a.type,
    a.domain,
    u.user_agent_tool,
    u.user_agent_version
FROM batch AS b
JOIN addresses AS a ON a.ip = coalesce(b.ip, '')
JOIN agents AS u ON u.ua = coalesce(b.ua, '')
LEFT JOIN users AS n ON n.user = b.user
WHERE b.ts >= $day_start AND b.ts < $day_end
