"""An API token is never a session cookie, nor a session cookie an API token, even after the
server has resolved (and cached) the token for its own use: the cache of resolved viewers must
not let one stand in for the other.

Were it to, a leaked personal access token would sign in to the account page as a password
session does, and make a new token of its own that never expires and outlives the leaked
one's revocation.
"""

from __future__ import annotations

import httpx
import pytest

from pullstats.api.dashboard.session import SESSION_COOKIE
from tests.web.conftest import Web

pytestmark = pytest.mark.xdist_group("web")

PULLS = "/api/publisher/analytics/v1/namespaces/acme/pulls"
NAMESPACES = "/api/publisher/analytics/v1/"


def _api_token(url: str, user: str, secret: str) -> str:
    answer = httpx.post(f"{url}/v2/users/login", json={"username": user, "password": secret})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def test_an_api_token_already_used_as_one_is_no_session(web: Web) -> None:
    dave = web.users["dave"]
    assert dave.pat is not None
    token = _api_token(web.url, "dave", dave.pat)  # a leaked PAT's login
    with httpx.Client(base_url=web.url, timeout=30) as client:
        # resolved as a bearer token first: the server now holds its viewer
        answer = client.get(NAMESPACES, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        client.cookies.set(SESSION_COOKIE, token)
        account = client.get("/account")
        overview = client.get("/")
    for page, path in ((account, "%2Faccount"), (overview, "%2F")):
        assert page.status_code == 303, page.text
        assert page.headers["location"] == f"/signin?next={path}&expired=1"


def test_a_session_already_used_on_a_page_is_no_api_token(web: Web) -> None:
    alice = web.users["alice"]
    bearer = {"Authorization": f"Bearer {_api_token(web.url, 'alice', alice.password)}"}
    with httpx.Client(base_url=web.url, timeout=30, headers={"Origin": web.url}) as client:
        signed_in = client.post("/signin", data={"username": "alice", "secret": alice.password})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
        cookie = client.cookies[SESSION_COOKIE]
        assert client.get("/account").status_code == 200  # resolved as a session first
        # alice's own API token makes the pulls answer cached for what she may read
        assert client.get(PULLS, headers=bearer).status_code == 200
    with httpx.Client(base_url=web.url, timeout=30) as client:
        as_bearer = {"Authorization": f"Bearer {cookie}"}
        for path in (PULLS, NAMESPACES):  # a cached answer, and a route's own check
            answer = client.get(path, headers=as_bearer)
            assert answer.status_code == 401, (path, answer.text)
            assert "Audience" in answer.json()["detail"], answer.text
