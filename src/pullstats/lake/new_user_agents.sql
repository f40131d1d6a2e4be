-- lake.new_user_agents: the batch's distinct user agents (NULL read as '') that the run's
-- table of parsed user agents (`agents`) does not hold yet.
SELECT DISTINCT coalesce(ua, '') AS ua
FROM batch
WHERE coalesce(ua, '') NOT IN (SELECT ua FROM agents)
