"""A NUL in a name a client types is an unknown name, on PostgreSQL as on SQLite.

PostgreSQL refuses a NUL in any text parameter (``psycopg.DataError: PostgreSQL text fields
cannot contain NUL (0x00) bytes``): a login as ``"alice\\u0000"`` was a 500 with a plain-text
body, and so were a repository series of ``api%00`` and ``/repos/pulls?repos=acme/api%00`` for
a signed-in member. Every test runs on both catalogs (tests/accounts/conftest.py).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import event

from pullstats.accounts import tokens
from pullstats.accounts.login import authenticate, authenticate_password, user_named
from pullstats.accounts.service import is_user_name
from pullstats.api.analytics import repository_exists
from pullstats.api.auth import BAD_CREDENTIALS
from pullstats.api.dashboard.signin import WRONG_SECRET
from pullstats.config import Settings
from pullstats.runtime import Runtime
from tests.accounts.conftest import PASSWORD, Api, seed_user

API = "/api/publisher/analytics/v1"


def test_a_name_with_a_nul_is_no_user(accounts_runtime: Runtime) -> None:
    seed_user(accounts_runtime, "alice", "acme")
    with accounts_runtime.sessions.begin() as session:
        pat = tokens.create_pat(session, "alice", "ci").text
    for name in ("alice\x00", "\x00", "ali\x00ce"):
        with accounts_runtime.sessions.begin() as session:
            # the right password and a live token of alice are no login of "alice\0"
            assert authenticate_password(session, name, PASSWORD) is None
            assert authenticate(session, name, pat) is None
    with accounts_runtime.sessions.begin() as session:
        assert authenticate(session, "alice", PASSWORD) is not None  # the real name still does


def test_a_name_no_account_could_have_is_looked_up_nowhere(accounts_runtime: Runtime) -> None:
    """``create_user``'s rule decides: 1 to 64 of a-z, 0-9, '.', '_', '-', a letter or digit
    first. A name outside it is no user without a query (one with a NUL failed on PostgreSQL)."""
    assert [is_user_name(n) for n in ("a" * 64, "a.b_c-9", "0")] == [True, True, True]
    outside = ("a" * 65, "Alice", "-alice", ".alice", "al ice", "alice\x00", "ålice", "")
    assert not any(is_user_name(name) for name in outside)
    queries: list[str] = []
    with accounts_runtime.sessions() as session:
        engine = session.get_bind()

        def count(conn: object, cursor: object, statement: str, *rest: object) -> None:
            queries.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            for name in outside:
                assert user_named(session, name) is None
            assert queries == []
            assert user_named(session, "alice") is None  # a valid name is asked for
            assert len(queries) == 1
        finally:
            event.remove(engine, "before_cursor_execute", count)


def test_a_repository_name_with_a_nul_does_not_exist(accounts_runtime: Runtime) -> None:
    with accounts_runtime.sessions() as session:
        assert not repository_exists(session, "acme", "api\x00")
        assert not repository_exists(session, "acme\x00", "api")
        assert not repository_exists(session, "acme", "api")  # no rollups: none exists


def test_the_login_routes_refuse_a_nul_name_as_any_unknown_user(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    with api.runtime.sessions.begin() as session:
        pat = tokens.create_pat(session, "alice", "ci").text
    for secret in (PASSWORD, "wrong", pat):
        answer = api.login("alice\x00", secret)
        assert (answer.status_code, answer.json()) == (401, {"detail": BAD_CREDENTIALS})
    # the dashboard's sign-in shares the login
    with httpx.Client(base_url=api.url, timeout=30, headers={"Origin": api.url}) as client:
        page = client.post("/signin", data={"username": "alice\x00", "secret": PASSWORD})
    assert page.status_code == 401
    assert WRONG_SECRET in page.text
    assert api.login("alice", PASSWORD).status_code == 200


def test_a_repository_with_a_nul_is_not_found(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    token = api.token("alice")
    one = api.get(f"{API}/namespaces/acme/repos/api%00/pulls", token)
    assert (one.status_code, one.json()) == (404, {"detail": "repository acme/api\x00 not found"})
    nested = api.get(f"{API}/namespaces/acme/repos/tools/c%00li/pulls", token)
    assert nested.status_code == 404
    # left out, as a name that does not exist is: the answer never tells them apart
    many = api.get(f"{API}/repos/pulls?repos=acme/api%00&repos=acme/nope&repos=acme%00/api", token)
    assert (many.status_code, many.json()) == (200, {"repos": {}})


@pytest.fixture
def standard_runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    """Hashing at the real cost: the cheapest argon2 would hide a difference in the noise."""
    runtime = Runtime.open(make_settings(password_hashing="standard"))
    yield runtime
    runtime.close()


def _timed(runtime: Runtime, name: str) -> float:
    with runtime.sessions.begin() as session:
        started = time.perf_counter()
        assert authenticate(session, name, "wrong password") is None
        return time.perf_counter() - started


@pytest.mark.slow
def test_a_nul_name_takes_as_long_as_a_wrong_password(standard_runtime: Runtime) -> None:
    """Refused before the catalog is asked, it still spends the dummy argon2 hash (as in
    test_timing.py: the median of interleaved ratios, bounds a factor of five either way;
    without the hash the ratio is about 0.01)."""
    seed_user(standard_runtime, "alice", "acme")
    _timed(standard_runtime, "alice")  # first-use costs are not the property
    ratios = []
    for _ in range(5):
        known = _timed(standard_runtime, "alice")
        ratios.append(_timed(standard_runtime, "alice\x00") / known)
    assert 0.2 < statistics.median(ratios) < 5.0, ratios
