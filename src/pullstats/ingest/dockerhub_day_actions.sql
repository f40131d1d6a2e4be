-- ingest.dockerhub_day_actions: a raw Docker Hub file's importable actions of $day in the
-- lake's action columns (lake_schema.ACTIONS), by time and then file order: the file's part of
-- the day under lake/imported/.
SELECT
    timestamp,
    action_day,
    namespace,
    repository,
    reference,
    digest,
    tag,
    http_method,
    action,
    type,
    host,
    country,
    domain,
    user_agent_tool,
    user_agent_version,
    user_agent,
    ip_hash,
    user_hash,
    ruleset_version
FROM parsed
WHERE problem IS NULL AND action_day = $day
ORDER BY timestamp, rn
