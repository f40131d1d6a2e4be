"""A bearer token's viewer is cached, and every accounts change still reaches the next request.

Each test first makes a request that succeeds, so the server holds the viewer in its cache,
then changes the accounts through another connection (as the CLI or a second server would),
and expects the very next request to see the change. The server's runtime and the test's are
separate engines, so nothing but the catalog carries the change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import text

from pullstats.accounts import service, tokens, totp
from pullstats.runtime import Runtime
from tests.accounts.conftest import PASSWORD, Api, accounts_epoch, seed_user

V1 = "/api/publisher/analytics/v1"
PULLS = f"{V1}/namespaces/acme/pulls"


def _pat(runtime: Runtime, user: str, expires: datetime | None = None) -> str:
    with runtime.sessions.begin() as session:
        return tokens.create_pat(session, user, "ci", expires_at=expires).text


def _revoke_pats(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        for info in tokens.list_pats(session, "alice"):
            assert tokens.revoke_pat(session, info.id)


def _disable(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        assert service.set_user_disabled(session, "alice", True)


def _remove_membership(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        service.remove_member(session, "acme", "alice")


def _operator_sql(runtime: Runtime) -> None:
    """Not through our code at all: the triggers still bump the epoch."""
    with runtime.engine.begin() as connection:
        connection.execute(text("UPDATE users SET disabled = :yes"), {"yes": True})


CHANGES: dict[str, tuple[Callable[[Runtime], None], int]] = {
    "revoke the PAT": (_revoke_pats, 401),
    "disable the user": (_disable, 401),
    "remove the membership": (_remove_membership, 404),
    "operator SQL": (_operator_sql, 401),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_cached_viewer_sees_every_accounts_change(api: Api, change: str) -> None:
    seed_user(api.runtime, "alice", "acme")
    token = api.token("alice", _pat(api.runtime, "alice"))
    for _ in range(3):  # the first resolves the viewer, the others come from the cache
        assert api.get(PULLS, token).status_code == 200
    before = accounts_epoch(api.runtime)
    apply, status = CHANGES[change]
    apply(api.runtime)
    assert accounts_epoch(api.runtime) > before
    assert api.get(PULLS, token).status_code == status


def test_a_cached_extra_repo_grant_ends_with_its_removal(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    seed_user(api.runtime, "bob", "bobco")
    with api.runtime.sessions.begin() as session:
        assert service.add_extra_repo(session, "acme", "bobco/shared")
    token = api.token("alice")
    first = api.get(f"{V1}/namespaces", token).json()
    assert first == [
        {
            "namespace": "acme",
            "extraRepos": ["bobco/shared"],
            "datasets": first[0]["datasets"],
        }
    ]
    with api.runtime.sessions.begin() as session:
        service.remove_extra_repo(session, "acme", "bobco/shared")
    assert api.get(f"{V1}/namespaces", token).json()[0]["extraRepos"] == []


def test_a_new_membership_is_readable_at_once(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    token = api.token("alice")
    assert api.get(f"{V1}/namespaces/newco", token).status_code == 404
    with api.runtime.sessions.begin() as session:
        service.create_namespace(session, "newco")
        service.add_member(session, "newco", "alice", "member")
    assert api.get(f"{V1}/namespaces/newco", token).status_code == 200


def test_a_cached_pat_login_dies_when_the_pat_expires(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    expires = datetime.now(UTC) + timedelta(seconds=3)
    token = api.token("alice", _pat(api.runtime, "alice", expires))
    epoch = accounts_epoch(api.runtime)
    assert api.get(PULLS, token).status_code == 200
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.2)
    # nothing changed in the catalog: only the clock ends it
    assert accounts_epoch(api.runtime) == epoch
    assert api.get(PULLS, token).status_code == 401


def test_ordinary_logins_leave_the_epoch_alone(api: Api) -> None:
    """A PAT login stamps ``last_used_at`` and a TOTP login ``totp_last_step``: neither changes
    who may read what, so neither may empty every server's cache."""
    seed_user(api.runtime, "alice", "acme")
    pat = _pat(api.runtime, "alice")
    with api.runtime.sessions.begin() as session:
        uri = totp.enable_totp(session, "alice")
    epoch = accounts_epoch(api.runtime)
    assert api.token("alice", pat)
    with api.client() as client:
        first = client.post("/v2/users/login", json={"username": "alice", "password": PASSWORD})
        assert first.status_code == 401
        second = client.post(
            "/v2/users/2fa-login",
            json={"login_2fa_token": first.json()["login_2fa_token"], "code": _code(uri)},
        )
        assert second.status_code == 200, second.text
    assert accounts_epoch(api.runtime) == epoch


def _code(uri: str) -> str:
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    return parsed.now()
