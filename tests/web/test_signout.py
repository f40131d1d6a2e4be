"""Signing out ends that session on the server: a copy of its cookie is refused everywhere,
for good, while the user's other sessions go on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from pullstats.accounts import jwt_tokens, service
from pullstats.api.dashboard.session import SESSION_AUDIENCE, SESSION_COOKIE
from pullstats.config import Settings
from pullstats.db.models import RevokedSession
from pullstats.key_rings import jwt_key_ring
from pullstats.runtime import Runtime
from pullstats.timestamps import utc
from tests.conftest import Server, catalog_settings, catalog_url, start_server
from tests.web.conftest import NewPage, SignedInPage, Web

pytestmark = pytest.mark.xdist_group("web")

PULLS = "/api/publisher/analytics/v1/namespaces/acme/pulls"
PASSWORD = "zoe quartz lagoon ember"


def _cookie_of(page: Any) -> str:
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert SESSION_COOKIE in cookies, sorted(cookies)
    return str(cookies[SESSION_COOKIE])


@contextmanager
def _signed_in(url: str, user: str, secret: str) -> Iterator[httpx.Client]:
    """A client holding a session of its own, from the real ``POST /signin``."""
    client = httpx.Client(base_url=url, timeout=30, headers={"Origin": url})
    try:
        answer = client.post("/signin", data={"username": user, "secret": secret})
        assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
        yield client
    finally:
        client.close()


def _sign_out(client: httpx.Client) -> str:
    """Sign out as the page's *Sign out* button does (its form's csrf_token); the old cookie."""
    cookie = client.cookies[SESSION_COOKIE]
    page = client.get("/account")
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert page.status_code == 200 and csrf is not None, page.text
    answer = client.post("/signout", data={"csrf_token": csrf.group(1)})
    assert answer.status_code == 303 and answer.headers["location"] == "/signin"
    assert SESSION_COOKIE not in client.cookies
    return str(cookie)


def _page_with(url: str, cookie: str) -> httpx.Response:
    """``GET /account`` with nothing but ``cookie`` as the session (a copy of it, elsewhere)."""
    with httpx.Client(base_url=url, timeout=30) as client:
        client.cookies.set(SESSION_COOKIE, cookie)
        return client.get("/account")


def _refused(answer: httpx.Response) -> None:
    """The redirect of an ended session (as an expired one), never the page."""
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/signin?next=%2Faccount&expired=1"


def test_signing_out_ends_that_session_for_every_copy_of_its_cookie(
    web: Web, signed_in_page: SignedInPage, new_page: NewPage
) -> None:
    here = signed_in_page("alice", next_path="/account")
    there = signed_in_page("alice")  # another browser, signed in on its own
    copied = _cookie_of(here)
    assert _page_with(web.url, copied).status_code == 200  # the copy works while signed in

    here.get_by_role("button", name="Sign out").click()
    assert here.url == f"{web.url}/signin"

    thief = new_page()
    thief.context.add_cookies([{"name": SESSION_COOKIE, "value": copied, "url": web.url}])
    thief.goto("/account")
    assert thief.url == f"{web.url}/signin?next=%2Faccount&expired=1"
    assert thief.get_by_role("status").inner_text().startswith("Your session has ended.")
    _refused(_page_with(web.url, copied))
    with httpx.Client(base_url=web.url, timeout=30) as client:
        # a session is never a bearer token (its audience), signed out or not
        bearer = client.get(PULLS, headers={"Authorization": f"Bearer {copied}"})
    assert bearer.status_code == 401

    there.goto("/account")
    assert there.url == f"{web.url}/account"
    assert there.get_by_role("heading", level=1).inner_text() == "Account of alice"


def test_signing_out_of_a_token_session_ends_it_too(web: Web) -> None:
    """A session signed in with a personal access token (its JWT names the PAT) ends alike, and
    the PAT itself still signs in."""
    dave = web.users["dave"]
    assert dave.pat is not None
    with _signed_in(web.url, "dave", dave.pat) as client:
        signed_out = _sign_out(client)
    _refused(_page_with(web.url, signed_out))
    with _signed_in(web.url, "dave", dave.pat) as client:
        assert client.get("/account").status_code == 200


def test_sign_out_drops_the_revocations_past_their_expiry(web: Web) -> None:
    """Each sign-out deletes the rows of tokens that have expired anyway: the table holds one
    JWT lifetime of sign-outs."""
    runtime = web.runtime()
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    try:
        with runtime.sessions.begin() as session:  # a sign-out of two hours ago
            session.add(RevokedSession(jti="0" * 32, expires_at=long_ago))
        with _signed_in(web.url, "erin", web.users["erin"].password) as client:
            signed_out = _sign_out(client)
        with runtime.sessions() as session:
            rows = {row.jti: utc(row.expires_at) for row in session.scalars(select(RevokedSession))}
    finally:
        runtime.close()
    keys = jwt_key_ring(catalog_settings(web.data_dir))
    claims = jwt_tokens.verify(keys, signed_out, audience=SESSION_AUDIENCE)
    assert "0" * 32 not in rows
    assert rows[claims.token_id] == claims.expires


def _node(root: Path, name: str, catalog: str, keys: Path) -> Server:
    env = {
        "PULLSTATS_DATABASE_URL": catalog,
        "PULLSTATS_KEYS_DIR": str(keys),
        "PULLSTATS_LAKE_URL": str(root / "a" / "lake"),  # the lake every node shares
        "PULLSTATS_EXPORTS_URL": str(root / "a" / "exports"),  # and the exports store
        "PULLSTATS_SCHEDULE_INTERVAL": "0",
        "PULLSTATS_NODE_NAME": name,
    }
    return start_server(root / name, root / f"{name}.log", env)


def test_a_signed_out_session_is_refused_by_every_node_and_after_a_restart(
    tmp_path: Path,
) -> None:
    """Two nodes on one catalog, each holding both sessions in its cache: a sign-out on one
    ends the session on both at once, and the revocation outlives the servers."""
    keys = tmp_path / "shared-keys"
    keys.mkdir(mode=0o700)
    catalog = catalog_url(tmp_path / "a") or f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    setup = Runtime.open(Settings(data_dir=tmp_path / "a", database_url=catalog, keys_dir=keys))
    try:
        with setup.sessions.begin() as session:
            service.create_namespace(session, "acme")
            service.create_user(session, "zoe", PASSWORD)
            service.add_member(session, "acme", "zoe", "member")
    finally:
        setup.close()
    a = _node(tmp_path, "a", catalog, keys)
    try:
        b = _node(tmp_path, "b", catalog, keys)
        try:
            with (
                _signed_in(a.url, "zoe", PASSWORD) as first,
                _signed_in(a.url, "zoe", PASSWORD) as second,
            ):
                kept = second.cookies[SESSION_COOKIE]
                ended = first.cookies[SESSION_COOKIE]
                for node in (a, b):  # both sessions resolved, so cached, on both nodes
                    assert _page_with(node.url, ended).status_code == 200
                    assert _page_with(node.url, kept).status_code == 200
                first.base_url = httpx.URL(b.url)  # signs out on the other node
                first.headers["Origin"] = b.url
                assert _sign_out(first) == ended
            for node in (a, b):
                _refused(_page_with(node.url, ended))
                assert _page_with(node.url, kept).status_code == 200
        finally:
            b.stop()
    finally:
        a.stop()
    again = _node(tmp_path, "a", catalog, keys)
    try:
        _refused(_page_with(again.url, ended))
        assert _page_with(again.url, kept).status_code == 200
    finally:
        again.stop()
