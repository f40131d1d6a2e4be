-- rollups.breakdowns: a period's counts by client network and tool, at namespace and repository
-- level, in one pass: cloud provider (`host`), network type (`type`), client tool, and client
-- tool with its version. `dimension` names the split; `value` is the host, type or tool ('' when
-- unknown); `version` is the tool's version on 'tool_version' rows and '' on every other.
-- From the lake's actions only (imported summaries carry none of these).
SELECT
    CASE WHEN grouping(repository) = 1 THEN 'namespace' ELSE 'repository' END AS level,
    namespace,
    coalesce(repository, '') AS repository,
    CASE WHEN grouping(host) = 0 THEN 'host'
         WHEN grouping(type) = 0 THEN 'type'
         WHEN grouping(version) = 0 THEN 'tool_version'
         ELSE 'tool' END AS dimension,
    coalesce(host, type, tool, '') AS value,
    coalesce(version, '') AS version,
    count(*) FILTER (WHERE action = 'pull_by_tag') AS pull_by_tag,
    count(*) FILTER (WHERE action = 'pull_by_digest') AS pull_by_digest,
    count(*) FILTER (WHERE action = 'version_check') AS version_check,
    count(DISTINCT ip_hash) AS unique_ip_count
FROM (
    SELECT
        namespace,
        repository,
        coalesce(host, '') AS host,
        coalesce(type, '') AS type,
        coalesce(user_agent_tool, '') AS tool,
        coalesce(user_agent_version, '') AS version,
        action,
        ip_hash
    FROM actions
)
GROUP BY GROUPING SETS (
    (namespace, host), (namespace, repository, host),
    (namespace, type), (namespace, repository, type),
    (namespace, tool), (namespace, repository, tool),
    (namespace, tool, version), (namespace, repository, tool, version)
)
