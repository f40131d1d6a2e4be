-- exports.extra_actions: the period's actions (`period_actions`) of the extra repos of a
-- namespace's scope, given as 'namespace/repository' names in $extra_repos; what
-- rollups.counts counts for the namespace rows of the extra repos' namespaces.
SELECT * FROM period_actions
WHERE list_contains($extra_repos, namespace || '/' || repository)
