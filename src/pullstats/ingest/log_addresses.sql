-- ingest.log_addresses: the distinct client addresses of a call's requests that are not an IPv4
-- address as Python prints it ($canonical_ipv4): the ones the parser normalises.
SELECT DISTINCT ip FROM log_lines WHERE reason IS NULL AND NOT regexp_full_match(ip, $canonical_ipv4)
