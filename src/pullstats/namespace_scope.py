"""What a namespace's readers see: its own repositories, and its extra repos.

An extra repo (``ns2/repo``) is a repository of another namespace that the namespace's members
may read as if it were theirs (``pullstats extra-repos add``): its repository and reference
rows, never the other namespace's own total. The API's permission checks and series, the
exports' raw view and summaries, and what counts as a namespace's data all ask this one type.
Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from pullstats.sql_literals import sql_text


@dataclass(frozen=True)
class NamespaceScope:
    namespace: str
    extra_repos: tuple[str, ...] = ()

    @property
    def extra_keys(self) -> tuple[tuple[str, str], ...]:
        """The extra repos as (namespace, repository) pairs."""
        return tuple(
            (owner, name) for owner, _, name in (r.partition("/") for r in self.extra_repos)
        )

    def covers_repository(self, namespace: str, repository: str) -> bool:
        """Whether ``namespace/repository`` is the namespace's own or one of its extra repos."""
        return namespace == self.namespace or f"{namespace}/{repository}" in self.extra_repos

    def lake_condition(self) -> str:
        """A DuckDB condition on ``namespace`` and ``repository`` columns: the rows in scope."""
        condition = f"namespace = {sql_text(self.namespace)}"
        if self.extra_repos:
            condition += f" OR {self.extras_condition()}"
        return condition

    def extras_condition(self) -> str:
        """The same for the extra repos alone (true for none when there are none)."""
        if not self.extra_repos:
            return "false"
        extras = ", ".join(sql_text(repo) for repo in self.extra_repos)
        return f"namespace || '/' || repository IN ({extras})"
