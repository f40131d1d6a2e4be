-- exports.summary_rows: the rollup rows a namespace's summary views are written from.
-- `rollups`: the period's rollups (pull_rollups) of the keys in the scope of $namespace, as
-- they are; `extra_counts`: rollups.counts over the extra repos' actions, of which only the
-- namespace rows of other namespaces are taken (such a row counts the extra repos only;
-- Docker Hub's imported row for that namespace covers its other repositories too).
SELECT level, namespace, repository, reference,
    pull_by_tag, pull_by_digest, version_check, unique_ip_count
FROM rollups
UNION ALL
SELECT level, namespace, repository, reference,
    pull_by_tag, pull_by_digest, version_check, unique_ip_count
FROM extra_counts
WHERE level = 'namespace' AND namespace <> $namespace
