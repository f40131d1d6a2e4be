"""Signing in and out of the dashboard in a real browser, and the session cookie's rules."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from pullstats.accounts import jwt_tokens, service
from pullstats.api.dashboard.session import SESSION_AUDIENCE
from pullstats.config import Settings
from pullstats.key_rings import jwt_key_ring
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, start_server
from tests.web.conftest import (
    ATTEMPTS_PER_ACCOUNT,
    NewPage,
    SignedInPage,
    Web,
    outside_requests,
    session_client,
    sign_in,
)

pytestmark = pytest.mark.xdist_group("web")


def _session_cookie(page: Any) -> dict[str, Any]:
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert "pullstats_session" in cookies, sorted(cookies)
    return cookies["pullstats_session"]


def test_password_sign_in_lands_on_the_overview(web: Web, signed_in_page: SignedInPage) -> None:
    page = signed_in_page("alice")
    assert page.url == f"{web.url}/"
    assert page.get_by_role("heading", name="Overview").is_visible()
    assert page.locator(".who").inner_text() == "alice"
    cookie = _session_cookie(page)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert cookie["secure"] is False  # plain http on loopback, no https public URL
    stored = page.evaluate(
        "() => [document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage)]"
    )
    assert stored == ["", "{}", "{}"]  # no token a script could read
    assert outside_requests(page) == []


def test_a_page_without_a_session_goes_to_sign_in_and_back(web: Web, new_page: NewPage) -> None:
    page = new_page()
    page.goto("/?namespace=beta")
    assert page.url == f"{web.url}/signin?next=%2F%3Fnamespace%3Dbeta"
    sign_in(page, web.users["alice"])
    assert page.url == f"{web.url}/?namespace=beta"


def test_a_personal_access_token_signs_in_without_a_code(web: Web, new_page: NewPage) -> None:
    page = new_page()
    dave = web.users["dave"]
    assert dave.pat is not None
    sign_in(page, dave, secret=dave.pat)
    assert page.url == f"{web.url}/"
    assert page.locator(".who").inner_text() == "dave"
    assert _session_cookie(page)["httpOnly"] is True


def test_two_factor_sign_in_asks_for_a_real_code(web: Web, new_page: NewPage) -> None:
    page = new_page()
    carol = web.users["carol"]
    page.goto("/signin?next=%2Fexports")
    page.get_by_label("User name").fill("carol")
    page.get_by_label("Password or personal access token").fill(carol.password)
    page.get_by_role("button", name="Sign in").click()
    assert page.url.startswith(f"{web.url}/signin/2fa")
    half = {c["name"]: c for c in page.context.cookies()}
    assert "pullstats_session" not in half  # no session before the code
    assert page.get_by_text("Lost your authenticator? The operator of this pullstats server can "
                            "turn the second step off").is_visible()  # fmt: skip
    assert half["pullstats_2fa"]["httpOnly"] and half["pullstats_2fa"]["path"] == "/signin"
    page.get_by_label("Authentication code").fill(carol.totp_code())
    page.get_by_role("button", name="Verify").click()
    assert page.url == f"{web.url}/exports"
    assert page.locator(".who").inner_text() == "carol"
    assert "pullstats_2fa" not in {c["name"] for c in page.context.cookies()}


def test_a_wrong_code_ends_the_attempt_with_a_message(web: Web, new_page: NewPage) -> None:
    page = new_page()
    carol = web.users["carol"]
    page.goto("/signin")
    page.get_by_label("User name").fill("carol")
    page.get_by_label("Password or personal access token").fill(carol.password)
    page.get_by_role("button", name="Sign in").click()
    code = carol.totp_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page.get_by_label("Authentication code").fill(wrong)
    page.get_by_role("button", name="Verify").click()
    assert page.get_by_role("alert").inner_text().startswith("Wrong or already used code.")
    assert "pullstats_session" not in {c["name"] for c in page.context.cookies()}


def test_a_wrong_password_says_so(web: Web, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, web.users["mallory"], secret="not mallory's password at all")
    assert page.get_by_role("alert").inner_text() == "Wrong user name, password or access token."
    assert "/signin" in page.url
    # and who can help: an operator sets a forgotten password (pullstats users password)
    assert page.get_by_text("Forgot your password? The operator of this pullstats server can set a "
                            "new one.").is_visible()  # fmt: skip
    # the name is kept, the secret is not, and the secret is the field to type in
    assert page.get_by_label("User name").input_value() == "mallory"
    assert page.get_by_label("Password or personal access token").input_value() == ""
    assert page.evaluate("document.activeElement.id") == "secret"
    assert "pullstats_session" not in {c["name"] for c in page.context.cookies()}


def test_too_many_failures_are_throttled_with_the_wait(web: Web, new_page: NewPage) -> None:
    page = new_page()
    trent = web.users["trent"]
    for attempt in range(ATTEMPTS_PER_ACCOUNT):
        sign_in(page, trent, secret=f"guess number {attempt}")
        assert page.get_by_role("alert").inner_text().startswith("Wrong user name")
    sign_in(page, trent)  # the right password, too late: the account is locked for a while
    message = page.get_by_role("alert").inner_text()
    wait = re.fullmatch(r"Too many failed attempts\. Try again in (\d+) seconds\.", message)
    assert wait is not None, message
    assert 0 < int(wait.group(1)) <= 15 * 60  # the window, PULLSTATS_LOGIN_ATTEMPTS_WINDOW
    # the API's login counts the same attempts: one limiter
    with httpx.Client(base_url=web.url) as client:
        answer = client.post(
            "/v2/users/login", json={"username": "trent", "password": trent.password}
        )
    assert answer.status_code == 429


def test_sign_out_ends_the_session(web: Web, signed_in_page: SignedInPage) -> None:
    page = signed_in_page("alice")
    page.get_by_role("button", name="Sign out").click()
    assert page.url == f"{web.url}/signin"
    assert "pullstats_session" not in {c["name"] for c in page.context.cookies()}
    page.goto("/account")
    assert page.url == f"{web.url}/signin?next=%2Faccount"


def _expired_session(settings: Settings, user_id: int, generation: int) -> str:
    """A session token of the user that expired a minute ago, signed with the server's key."""
    return jwt_tokens.issue(
        jwt_key_ring(settings).signing_key(),
        str(user_id),
        timedelta(seconds=-60),
        audience=SESSION_AUDIENCE,
        session_generation=generation,
    )


def test_an_expired_session_signs_in_again_and_comes_back(
    web: Web, signed_in_page: SignedInPage
) -> None:
    page = signed_in_page("alice")
    settings = catalog_settings(web.data_dir)
    runtime = web.runtime()
    try:
        with runtime.sessions() as session:
            alice = service.get_user(session, "alice")
            user_id, generation = alice.id, alice.session_generation
    finally:
        runtime.close()
    expired = _expired_session(settings, user_id, generation)
    page.context.add_cookies([{"name": "pullstats_session", "value": expired, "url": web.url}])
    page.goto("/exports?namespace=beta&year=2026")
    assert page.url.startswith(f"{web.url}/signin?next=%2Fexports%3Fnamespace%3Dbeta")
    assert page.get_by_role("status").inner_text().startswith("Your session has ended.")
    sign_in(page, web.users["alice"])
    assert page.url == f"{web.url}/exports?namespace=beta&year=2026"


def test_the_session_cookie_outlives_its_token_to_say_it_ended(
    signed_in_page: SignedInPage,
) -> None:
    """Kept only as long as the token (an hour), the cookie would be gone when the token
    expires, and the page would ask to sign in without saying the session ended."""
    page = signed_in_page("alice")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "pullstats_session"]
    assert cookie["expires"] - time.time() > 3600 + 23 * 3600  # the token's hour, and a day


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example/",
        "http:/evil.example",
        "/%2F%2Fevil.example",  # decoded once by the query: still a path of ours
        " //evil.example",
    ],
)
def test_sign_in_never_redirects_to_another_site(web: Web, new_page: NewPage, target: str) -> None:
    page = new_page()
    page.goto(f"/signin?next={quote(target, safe='')}")
    sign_in(page, web.users["alice"])
    assert page.url.startswith(web.url + "/"), page.url
    assert outside_requests(page) == []


def test_cross_site_form_posts_are_refused(web: Web) -> None:
    alice = web.users["alice"]
    with httpx.Client(base_url=web.url, headers={"Origin": "http://evil.example"}) as client:
        login_csrf = client.post("/signin", data={"username": "alice", "secret": alice.password})
    assert login_csrf.status_code == 403 and "pullstats_session" not in login_csrf.cookies
    with session_client(web, "alice") as client:
        page = client.get("/account")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert token is not None
        form = {"csrf_token": token.group(1), "label": "forged"}
        forged = client.post(
            "/account/tokens", data=form, headers={"Origin": "http://evil.example"}
        )
        no_origin = client.post("/account/tokens", data=form, headers={"Origin": "null"})
        # of this site, but not of this session: the account page again, nothing done
        no_token = client.post("/account/tokens", data={"label": "forged"})
        after = client.get("/account")
    for answer in (forged, no_origin):
        assert answer.status_code == 403
        assert answer.json()["detail"].startswith("cross-site form refused")
    assert (no_token.status_code, no_token.headers["location"]) == (303, "/account?stale#main")
    assert "forged" not in after.text


def test_pages_of_an_earlier_session_in_another_tab(web: Web, new_page: NewPage) -> None:
    """Two tabs of one browser: whatever one does to the session, the other's forms work or
    say what happened, never a bare 403."""
    erin = web.users["erin"]
    first = new_page()
    first.goto("/signin")
    second = first.context.new_page()
    second.goto("/signin")
    sign_in(first, erin)  # the second tab's sign-in form is older than this session
    sign_in(second, erin)
    assert second.url == f"{web.url}/", second.url
    second.goto("/account")
    first.get_by_role("button", name="Sign out").click()  # then in again: a new session
    sign_in(first, erin)
    second.get_by_label("Label").fill("made in a stale tab")
    second.locator("#token-password").fill(erin.password)
    second.get_by_role("button", name="Create token").click()
    assert second.url == f"{web.url}/account?stale#main"  # at the top, where it is said
    assert second.get_by_role("alert").inner_text().startswith("That form was on a page of an")
    assert "made in a stale tab" not in second.content()
    first.goto("/account")  # now the first tab is the stale one: its sign-out still works
    second.get_by_role("button", name="Sign out").click()
    first.get_by_role("button", name="Sign out").click()
    assert "/signin" in first.url
    assert "pullstats_session" not in {c["name"] for c in first.context.cookies()}


def test_the_cookie_is_secure_behind_an_https_public_url(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = catalog_settings(data_dir)
    runtime = Runtime.open(settings)
    try:
        with runtime.sessions.begin() as session:
            zoe = service.create_user(session, "zoe", "zoe quartz lagoon ember")
            user_id, generation = zoe.id, zoe.session_generation
    finally:
        runtime.close()
    expired = _expired_session(settings, user_id, generation)
    public = {"PULLSTATS_PUBLIC_URL": "https://stats.example.com"}
    server = start_server(data_dir, tmp_path / "server.log", public)
    try:
        form = {"username": "zoe", "secret": "zoe quartz lagoon ember"}
        with httpx.Client(base_url=server.url) as client:
            # behind the TLS proxy the browser's origin is the public one
            answer = client.post(
                "/signin", data=form, headers={"Origin": "https://stats.example.com"}
            )
            other = client.post("/signin", data=form, headers={"Origin": "https://evil.example"})
            # a session that ended: its cookie is deleted with the flags it was set with
            ended = httpx.get(f"{server.url}/account", cookies={"pullstats_session": expired})
    finally:
        server.stop()
    assert ended.status_code == 303 and "expired=1" in ended.headers["location"]
    deleted = ended.headers["set-cookie"].lower()
    assert deleted.startswith('pullstats_session=""') and "max-age=0" in deleted, deleted
    assert "; secure" in deleted and "; httponly" in deleted and "samesite=strict" in deleted
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("pullstats_session=")
    assert "; secure" in cookie and "; httponly" in cookie and "samesite=strict" in cookie
    assert other.status_code == 403


def test_a_form_sent_after_the_session_ended_comes_back_to_its_page(
    web: Web, signed_in_page: SignedInPage
) -> None:
    page = signed_in_page("alice", next_path="/account")
    page.context.add_cookies(
        [{"name": "pullstats_session", "value": "no.longer.valid", "url": web.url}]
    )
    page.get_by_label("Label").fill("sent-after-expiry")
    page.locator("#token-password").fill(web.users["alice"].password)
    page.get_by_role("button", name="Create token").click()
    assert page.url.startswith(f"{web.url}/signin?next=%2Faccount&expired=1"), page.url
    sign_in(page, web.users["alice"])
    assert page.url == f"{web.url}/account"
    assert "sent-after-expiry" not in page.content()  # the form was not replayed
