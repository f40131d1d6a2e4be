-- rollups.breakdowns: a period's pull counts by client network and tool, at namespace and
-- repository level: cloud provider (`host`), network type (`type`), client tool with its
-- version (a tool's total is the sum of its versions' rows), the tool's client category
-- (`category`) and the use case inferred from the tool and the cloud (`use_case`; both from
-- pullstats.client_categories, the step's functions). `dimension` names the split;
-- `value` is the host, type, tool ('' when unknown), category or use case; `version` the
-- tool's version on 'tool_version' rows and '' on the others. No distinct count: over a range
-- the dashboard adds these up, which a distinct count never allows, and leaving it out keeps
-- the step cheap (one grouping of the actions, then the grouping sets over its few rows).
-- `actions`: the period's actions; `trends`: its imported Docker DVP Core Trends rows, with the
-- file each came from (the legacy files' summaries and the Summary report have no client).
WITH keyed AS (
    SELECT
        namespace,
        repository,
        coalesce(host, '') AS host,
        coalesce(type, '') AS type,
        coalesce(user_agent_tool, '') AS tool,
        coalesce(user_agent_version, '') AS version,
        count(*) FILTER (WHERE action = 'pull_by_tag') AS pull_by_tag,
        count(*) FILTER (WHERE action = 'pull_by_digest') AS pull_by_digest,
        count(*) FILTER (WHERE action = 'version_check') AS version_check
    FROM actions
    GROUP BY namespace, repository, host, type, tool, version
), imported_repositories AS (
    -- where imported Docker Hub raw rows count a repository's Hub pulls already (as in
    -- rollups.counts, they win over a report of the same pulls)
    SELECT DISTINCT namespace, repository FROM actions WHERE ruleset_version = 0
), per_file AS (
    -- a Trends row: Docker's cloud provider is pullstats' host (both write aws, gcp, azure …;
    -- 'hosting' then, else the network type is not known), its client tool the tool, with no
    -- version; downloads are pulls by tag, or by digest when it has no tag
    SELECT
        t.namespace,
        t.repository,
        coalesce(t.cloud_provider, '') AS host,
        CASE WHEN coalesce(t.cloud_provider, '') <> '' THEN 'hosting' ELSE '' END AS type,
        reported_tool(t.user_agent) AS tool,
        '' AS version,
        t.filename,
        sum(CASE WHEN t.tag <> '' THEN t.data_downloads ELSE 0 END) AS pull_by_tag,
        sum(CASE WHEN t.tag = '' THEN t.data_downloads ELSE 0 END) AS pull_by_digest,
        sum(t.version_checks) AS version_check
    FROM trends AS t
    LEFT JOIN imported_repositories AS i
        ON t.namespace = i.namespace AND t.repository = i.repository
    WHERE i.namespace IS NULL
    GROUP BY t.namespace, t.repository, host, type, tool, version, t.filename
), reported AS (
    -- the same report downloaded twice is one population: the largest value, never the sum
    SELECT
        namespace,
        repository,
        host,
        type,
        tool,
        version,
        max(pull_by_tag) AS pull_by_tag,
        max(pull_by_digest) AS pull_by_digest,
        max(version_check) AS version_check
    FROM per_file
    GROUP BY namespace, repository, host, type, tool, version
), classified AS (
    SELECT *, client_category(tool) AS category, use_case(tool, host) AS use_case
    FROM (SELECT * FROM keyed UNION ALL SELECT * FROM reported)
)
SELECT
    CASE WHEN grouping(repository) = 1 THEN 'namespace' ELSE 'repository' END AS level,
    namespace,
    coalesce(repository, '') AS repository,
    CASE WHEN grouping(host) = 0 THEN 'host'
         WHEN grouping(type) = 0 THEN 'type'
         WHEN grouping(category) = 0 THEN 'category'
         WHEN grouping(use_case) = 0 THEN 'use_case'
         ELSE 'tool_version' END AS dimension,
    coalesce(host, type, category, use_case, tool, '') AS value,
    coalesce(version, '') AS version,
    CAST(sum(pull_by_tag) AS BIGINT) AS pull_by_tag,
    CAST(sum(pull_by_digest) AS BIGINT) AS pull_by_digest,
    CAST(sum(version_check) AS BIGINT) AS version_check
FROM classified
GROUP BY GROUPING SETS (
    (namespace, host), (namespace, repository, host),
    (namespace, type), (namespace, repository, type),
    (namespace, category), (namespace, repository, category),
    (namespace, use_case), (namespace, repository, use_case),
    (namespace, tool, version), (namespace, repository, tool, version)
)
