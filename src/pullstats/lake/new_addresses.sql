-- lake.new_addresses: the batch's distinct client addresses (NULL read as '') that the run's
-- table of hashed and enriched addresses (`addresses`) does not hold yet.
SELECT DISTINCT coalesce(ip, '') AS ip
FROM batch
WHERE coalesce(ip, '') NOT IN (SELECT ip FROM addresses)
