"""The account page in a real browser: password, two-factor enrolment, access tokens."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pyotp
import pytest
from fastapi.routing import APIRoute

from pullstats.api.dashboard import account, account_tokens
from tests.web.conftest import (
    ATTEMPTS_PER_ACCOUNT,
    NewPage,
    SignedInPage,
    Web,
    outside_requests,
    screenshot,
    session_client,
    sign_in,
)

pytestmark = pytest.mark.xdist_group("web")


def _api_login(web: Web, username: str, secret: str) -> httpx.Response:
    with httpx.Client(base_url=web.url, timeout=30) as client:
        return client.post("/v2/users/login", json={"username": username, "password": secret})


def test_changing_the_password_ends_the_other_sessions(
    web: Web, signed_in_page: SignedInPage, tmp_path: Path
) -> None:
    frank = web.users["frank"]
    here = signed_in_page("frank", next_path="/account")
    elsewhere = signed_in_page("frank")
    api_token = _api_login(web, "frank", frank.password).json()["token"]
    new = "frank granite willow comet"
    screenshot(here, tmp_path, "account-desktop")

    # a password manager learns whose password changes: the form names the account
    named = here.locator('#password form input[autocomplete="username"]')
    assert named.get_attribute("value") == "frank" and named.is_hidden()
    here.get_by_label("Current password").fill("not the password")
    here.get_by_label("New password", exact=True).fill(new)
    here.get_by_label("New password again").fill(new)
    here.get_by_role("button", name="Change password").click()
    assert here.get_by_role("alert").inner_text() == "The current password is wrong."

    here.get_by_label("Current password").fill(frank.password)
    here.get_by_label("New password", exact=True).fill("short")
    here.get_by_label("New password again").fill("short")
    # past the browser's own minlength check, to the server's policy
    here.evaluate("() => document.querySelectorAll('[minlength]').forEach(e => e.minLength = 0)")
    here.get_by_role("button", name="Change password").click()
    assert "too short" in here.get_by_role("alert").inner_text()

    here.get_by_label("Current password").fill(frank.password)
    here.get_by_label("New password", exact=True).fill(new)
    here.get_by_label("New password again").fill(new)
    here.get_by_role("button", name="Change password").click()
    assert here.url == f"{web.url}/account?done=password#password"  # at its card
    assert here.get_by_role("status").inner_text().startswith("Your password is changed.")
    old_password, frank.password = frank.password, new

    here.goto("/")  # this session goes on
    assert here.url == f"{web.url}/"
    elsewhere.goto("/account")  # the other one has ended
    assert elsewhere.url.startswith(f"{web.url}/signin?next=%2Faccount")
    with httpx.Client(base_url=web.url) as client:
        answer = client.get(
            "/api/publisher/analytics/v1/namespaces",
            headers={"Authorization": f"Bearer {api_token}"},
        )
    assert answer.status_code == 401  # and so has every API token
    assert _api_login(web, "frank", old_password).status_code == 401
    assert _api_login(web, "frank", new).status_code == 200
    assert outside_requests(here) == []


def test_the_current_password_is_guessed_no_more_than_at_sign_in(
    web: Web, signed_in_page: SignedInPage
) -> None:
    """A session (a borrowed laptop, a stolen cookie) cannot try password after password on
    the account page: its wrong ones count where the sign-in's do."""
    oscar = web.users["oscar"]
    page = signed_in_page("oscar", next_path="/account")

    def change(current: str) -> str:
        page.get_by_label("Current password").fill(current)
        page.get_by_label("New password", exact=True).fill("oscar marble cactus harbor")
        page.get_by_label("New password again").fill("oscar marble cactus harbor")
        page.get_by_role("button", name="Change password").click()
        return str(page.get_by_role("alert").inner_text())

    for attempt in range(ATTEMPTS_PER_ACCOUNT):
        assert change(f"guess {attempt}") == "The current password is wrong."
    with page.expect_response(lambda answer: answer.request.method == "POST") as answered:
        refused = change(oscar.password)  # right, too late
    wait = re.fullmatch(r"Too many wrong attempts\. Try again in (\d+) seconds\.", refused)
    assert wait is not None, refused
    assert answered.value.status == 429
    assert answered.value.headers["retry-after"] == wait.group(1)  # as the sign-in's 429
    assert _api_login(web, "oscar", oscar.password).status_code == 429  # one limiter
    assert _api_login(web, "oscar", "oscar marble cactus harbor").status_code == 429


def test_two_factor_enrolment_with_the_qr_code_then_off_again(
    web: Web, signed_in_page: SignedInPage, new_page: NewPage
) -> None:
    grace = web.users["grace"]
    page = signed_in_page("grace", next_path="/account")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    # count() does not wait: let the enrolment page arrive first (a PostgreSQL run once
    # counted the page before it)
    page.locator("#totp-secret").wait_for()
    assert page.locator("figure.qr svg").count() == 1  # the QR code, drawn inline
    secret = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    generator = pyotp.TOTP(secret)
    wrong = f"{(int(generator.now()) + 1) % 1_000_000:06d}"
    # the current password is asked too (a wrong one: tests/accounts/test_lockout.py)
    page.locator("#enrol-password").fill(grace.password)
    page.get_by_label("Code from the app").fill(wrong)
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    assert page.get_by_role("alert").inner_text().startswith("That code does not match")

    grace.totp_secret = secret
    page.locator("#enrol-password").fill(grace.password)
    page.get_by_label("Code from the app").fill(grace.totp_code())
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    assert page.get_by_role("status").inner_text().startswith("Two-factor authentication is on")

    # a password sign-in now asks for a code; the code of the enrolment cannot be reused
    other = new_page()
    sign_in(other, grace)
    assert other.url == f"{web.url}/"
    assert _api_login(web, "grace", grace.password).json()["detail"].startswith("Require secondary")

    page.goto("/account")
    page.locator("#disable-password").fill(grace.password)
    page.get_by_label("Authentication code").fill(grace.totp_code())
    page.get_by_role("button", name="Turn off two-factor authentication").click()
    assert page.get_by_role("status").inner_text() == "Two-factor authentication is off."
    grace.totp_secret = None
    assert _api_login(web, "grace", grace.password).status_code == 200


def test_tokens_are_shown_once_used_and_revoked(
    web: Web, signed_in_page: SignedInPage, tmp_path: Path
) -> None:
    grace = web.users["grace"]
    page = signed_in_page("grace", next_path="/account#tokens")
    page.get_by_label("Label").fill("ci-pipeline")
    page.get_by_label("Expires").select_option("30")
    # the current password is asked: a token outlives a password change (a wrong password is
    # a failed sign-in of grace's too: with the revoked token's below, 2 of ATTEMPTS_PER_ACCOUNT)
    page.locator("#token-password").fill("not the password")
    page.get_by_role("button", name="Create token").click()
    assert page.get_by_role("alert").inner_text() == "The current password is wrong."
    assert page.locator("#tokens tbody tr").count() == 0
    page.get_by_label("Label").fill("ci-pipeline")
    page.get_by_label("Expires").select_option("30")
    page.locator("#token-password").fill(grace.password)
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert re.fullmatch(r"pst_[0-9a-f]+_[\w-]+", token), token
    assert page.url == f"{web.url}/account?done=token#tokens"  # a GET: a reload makes none
    page.reload()
    assert page.locator("#new-token").count() == 0  # shown once
    assert page.get_by_role("status").inner_text().startswith("The token is made.")
    assert page.locator("#tokens tbody tr").count() == 1
    assert "pullstats_new_token" not in {c["name"] for c in page.context.cookies()}
    row = page.locator("tr", has_text="ci-pipeline")
    assert row.locator("td").all_inner_texts()[:1] == ["analytics:read"]
    assert row.locator("td").nth(2).inner_text() == "never"  # last used
    screenshot(page, tmp_path, "account-new-token")

    assert _api_login(web, "grace", token).status_code == 200
    page.goto("/account")
    assert token not in page.content()  # shown once only
    row = page.locator("tr", has_text="ci-pipeline")
    assert row.locator("td").nth(2).inner_text().endswith("UTC")  # its last use, now

    row.get_by_role("button", name="Revoke ci-pipeline").click()
    assert page.get_by_role("status").inner_text().startswith("The token is revoked")
    assert page.locator("tr", has_text="ci-pipeline").locator("td").nth(4).inner_text() == "revoked"
    assert _api_login(web, "grace", token).status_code == 401


def test_nobody_revokes_another_users_token(web: Web) -> None:
    dave = web.users["dave"]
    assert dave.pat is not None
    token_id = dave.pat.split("_")[1]
    with session_client(web, "grace") as client:
        page = client.get("/account")
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert csrf is not None
        answer = client.post(
            f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf.group(1)}
        )
    assert answer.status_code == 404 and "No such token of yours." in answer.text
    assert _api_login(web, "dave", dave.pat).status_code == 200


def test_a_token_session_cannot_manage_the_account(web: Web, new_page: NewPage) -> None:
    dave = web.users["dave"]
    assert dave.pat is not None
    page = new_page()
    sign_in(page, dave, secret=dave.pat, next_path="/account")
    assert page.url == f"{web.url}/account"
    assert "cannot change account settings" in page.get_by_role("status").inner_text()
    assert page.locator("main form").count() == 0
    with httpx.Client(base_url=web.url, headers={"Origin": web.url}) as client:
        signed_in = client.post("/signin", data={"username": "dave", "secret": dave.pat})
        assert signed_in.status_code == 303
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/account").text)
        assert csrf is not None  # the sign-out form's
        made = client.post(
            "/account/tokens", data={"csrf_token": csrf.group(1), "label": "persistence"}
        )
        enrol = client.post("/account/2fa/start", data={"csrf_token": csrf.group(1)})
    for answer in (made, enrol):
        assert answer.status_code == 403
        assert answer.json()["detail"].startswith("signed in with a personal access token")


def test_a_forms_address_opened_as_a_page_is_the_account_page(web: Web) -> None:
    """The address bar keeps /account/tokens after a token is made: reopened, it was a 405."""
    forms = [
        route.path.replace("{token_id}", "pst-not-one")
        for route in (*account.router.routes, *account_tokens.router.routes)
        if isinstance(route, APIRoute)
        and "POST" in route.methods
        and route.path.startswith("/account/")
    ]
    assert len(forms) == 6, forms  # password, three of 2FA, a new token, revoking one
    with session_client(web, "alice") as client:
        for path in forms + [f"{path}/" for path in forms]:  # a trailing / as a proxy adds
            answer = client.get(path)
            assert (answer.status_code, answer.headers.get("location")) == (303, "/account"), path
        # an address that is no form's is not found, as anywhere else
        for path in ("/account/x", "/account/2fa", "/account/tokens/x", "/account/password/x"):
            assert client.get(path).status_code == 404, path
        slash = client.get("/account/")  # as /exports/ is
        assert (slash.status_code, slash.headers.get("location")) == (303, "/account")
        assert client.get("/account").status_code == 200  # still signed in
        signout = client.get("/signout")
        assert (signout.status_code, signout.headers["location"]) == (303, "/")
        assert client.get("/account").status_code == 200  # a GET signs no one out
