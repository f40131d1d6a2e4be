-- ingest.log_numbered: the new id of each request whose text repeats (log_repeats): the n-th
-- occurrence of a text, counting those of earlier calls, gets the id ending in -n (in line
-- order). The parser writes them over the ids of log_lines.
SELECT n, left(id, -1) || (carried + row_number() OVER (PARTITION BY id ORDER BY n)) AS id
FROM log_lines JOIN log_repeats USING (id)
WHERE reason IS NULL
