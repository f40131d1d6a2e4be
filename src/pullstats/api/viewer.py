"""The authenticated user of an API request, and how long a resolved one may be reused."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from pullstats.namespace_scope import NamespaceScope

ANALYTICS_SCOPE = "analytics:read"


@dataclass(frozen=True)
class Viewer:
    """The authenticated user of a request and what they may read.

    ``namespaces`` are those the user is a member of; ``extra_repos`` maps each of them to the
    repositories of other namespaces (``ns2/repo``) it may read too.
    """

    user_id: int
    name: str
    namespaces: tuple[str, ...]
    extra_repos: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    scopes: frozenset[str] = frozenset({ANALYTICS_SCOPE})

    def may_read_namespace(self, namespace: str) -> bool:
        """The namespace itself: membership only, never through an extra repo in it."""
        return namespace in self.namespaces

    def scope(self, namespace: str) -> NamespaceScope:
        """What the viewer reads as ``namespace`` (a member namespace): it and its extra repos."""
        return NamespaceScope(namespace, self.extra_repos.get(namespace, ()))

    def may_read_repository(self, namespace: str, repository: str) -> bool:
        """Through membership of its namespace, or as an extra repo of one of the viewer's."""
        return any(
            self.scope(own).covers_repository(namespace, repository) for own in self.namespaces
        )

    @cached_property
    def cache_scope(self) -> tuple[str, ...]:
        """What the viewer may read, as cache-key material: namespaces and extra repos, each
        extra repo with the namespace it is granted to.

        Every permission check of the series routes depends on these alone, and so does every
        answer: a namespace's ``group=repo`` rows list its extra repos, so a repo moved from one
        of the viewer's namespaces to another changes the key. Two viewers with the same scope
        may share every cached answer. Computed once per viewer: a cached viewer serves many
        requests.
        """
        extras = sorted(
            f"+{namespace}:{repo}"
            for namespace, repos in self.extra_repos.items()
            for repo in repos
        )
        return (*self.namespaces, *extras)


@dataclass(frozen=True, slots=True)
class ResolvedViewer:
    """A bearer token's viewer as the catalog said at ``accounts_epoch``.

    Reused only while the epoch is unchanged (any change to users, tokens, memberships or extra
    repos bumps it, migration 0004), until ``expires`` (epoch seconds: the JWT's expiry or its
    personal access token's, whichever is first), and for the ``audience`` its token was
    verified for alone: an API token is no session cookie, nor a session cookie an API token.
    """

    viewer: Viewer
    accounts_epoch: int
    expires: float
    audience: str
