-- classify.imported_actions: a day's actions imported from Docker Hub CSVs (`imported`, one
-- file per imported CSV, each row with the `filename` it came from). Identical rows within one
-- file are distinct actions (Docker writes one row per action and no IP), but the same action
-- is in several files when both the weekly and the monthly raw export are imported: each
-- distinct row is kept as many times as the file holding it most often has it.
WITH per_file AS (
    SELECT
        filename,
        timestamp, action_day, namespace, repository, reference, digest, tag, http_method,
        action, type, host, country, domain, user_agent_tool, user_agent_version, user_agent,
        ip_hash, user_hash, ruleset_version,
        count(*) AS n
    FROM imported
    GROUP BY ALL
), kept AS (
    -- never summed across files, never collapsed within one
    SELECT
        timestamp, action_day, namespace, repository, reference, digest, tag, http_method,
        action, type, host, country, domain, user_agent_tool, user_agent_version, user_agent,
        ip_hash, user_hash, ruleset_version,
        max(n) AS n
    FROM per_file
    GROUP BY ALL
)
SELECT
    timestamp, action_day, namespace, repository, reference, digest, tag, http_method,
    action, type, host, country, domain, user_agent_tool, user_agent_version, user_agent,
    ip_hash, user_hash, ruleset_version
FROM (SELECT *, unnest(range(n)) AS nth FROM kept)
