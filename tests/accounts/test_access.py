"""Who reads what: members see their namespaces only; extra repos only through their namespace."""

from __future__ import annotations

from pullstats.accounts import service
from pullstats.accounts.access import active_principal, readable_scope
from pullstats.api.viewer import Viewer
from pullstats.runtime import Runtime
from tests.accounts.conftest import Api, seed_user

V1 = "/api/publisher/analytics/v1"


def _viewer(runtime: Runtime, name: str) -> Viewer:
    """The Viewer the bearer dependency builds, from the same two queries."""
    with runtime.sessions() as session:
        user = service.get_user(session, name)
        principal = active_principal(session, user.id, None, 0, token_id="0" * 32)
        assert principal is not None
        scope = readable_scope(session, user.id)
    return Viewer(user.id, name, tuple(scope), scope, principal.scopes)


def test_user_never_reads_another_namespace(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    seed_user(api.runtime, "bob", "bobco")
    alice, bob = api.token("alice"), api.token("bob")
    for token, own, other in ((alice, "acme", "bobco"), (bob, "bobco", "acme")):
        assert api.get(f"{V1}/namespaces/{own}/pulls", token).status_code == 200
        hidden = api.get(f"{V1}/namespaces/{other}/pulls", token)
        missing = api.get(f"{V1}/namespaces/nosuchns/pulls", token)
        assert hidden.status_code == missing.status_code == 404
        # the same answer, only the name asked for differs
        assert hidden.text.replace(other, "X") == missing.text.replace("nosuchns", "X")
        assert set(hidden.headers) == set(missing.headers)


def test_membership_removal_takes_effect_on_the_next_request(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    token = api.token("alice")
    with api.runtime.sessions.begin() as session:
        service.remove_member(session, "acme", "alice")
    assert api.get(f"{V1}/namespaces/acme/pulls", token).status_code == 404


def test_extra_repos_are_readable_only_through_their_namespace(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    seed_user(api.runtime, "bob", "bobco")
    seed_user(api.runtime, "carol", "carolco")
    with api.runtime.sessions.begin() as session:
        assert service.add_extra_repo(session, "acme", "bobco/shared")
    alice = _viewer(api.runtime, "alice")
    assert alice.extra_repos == {"acme": ("bobco/shared",)}
    assert alice.may_read_repository("bobco", "shared")
    assert alice.may_read_repository("acme", "anything")
    assert not alice.may_read_repository("bobco", "private")  # the grant is one repo
    assert not alice.may_read_namespace("bobco")  # never the namespace it lives in
    carol = _viewer(api.runtime, "carol")
    assert not carol.may_read_repository("bobco", "shared")
    assert carol.extra_repos == {"carolco": ()}
    # over HTTP too: the extra repo gives alice no access to bobco's namespace routes
    token = api.token("alice")
    assert api.get(f"{V1}/namespaces/bobco/pulls", token).status_code == 404
    with api.runtime.sessions.begin() as session:
        service.remove_extra_repo(session, "acme", "bobco/shared")
    assert not _viewer(api.runtime, "alice").may_read_repository("bobco", "shared")


def test_extra_repo_names_are_checked(accounts_runtime: Runtime) -> None:
    import pytest

    from pullstats.accounts.errors import AccountError

    with accounts_runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
        for bad in ("noslash", "acme/own", "Bad/Repo", "a/../b", ""):
            with pytest.raises(AccountError):
                service.add_extra_repo(session, "acme", bad)
        assert service.add_extra_repo(session, "acme", "other/group/app")
        assert not service.add_extra_repo(session, "acme", "other/group/app")
