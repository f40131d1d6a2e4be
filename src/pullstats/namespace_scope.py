"""What a namespace's readers see: its own repositories, and its extra repos.

An extra repo (``ns2/repo``) is a repository of another namespace that the namespace's members
may read as if it were theirs (``pullstats extra-repos add``): its repository and reference
rows, never the other namespace's own total. The API's permission checks and series, the
exports' raw view and summaries (as the ``$namespace`` and ``$extra_repos`` parameters of
their steps), and what counts as a namespace's data all ask this one type. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass


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
