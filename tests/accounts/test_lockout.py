"""Strangers' failed logins lock an account's password, never its tokens nor its owner.

A personal access token is 256 random bits: it is checked before the account's counter, so a
live one logs in while anyone's wrong passwords hold the password back. The account forms of a
signed-in user count on a counter of the user's own, so the owner changes the password while
the sign-in is locked, and the owner's (or a stolen session's) wrong guesses are still limited.
Making a token and turning two-factor on ask for the current password, as the password change
does: a copied session cookie alone does neither.

Real requests to a real server (uvicorn on loopback), on SQLite and PostgreSQL. Strangers come
from addresses of their own, through ``X-Forwarded-For`` behind a trusted 127.0.0.1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pyotp

from pullstats.accounts import service, tokens
from tests.accounts.conftest import PASSWORD, Api, seed_user

#: what a stranger sends: shaped like a personal access token, but no live one
TOKEN_SHAPED = "pst_0123456789abcdef_" + "A" * 43
NEW_PASSWORD = "quartz meadow lantern harbour"


def _locked_by_strangers(api: Api, name: str, failures: int) -> None:
    for number in range(failures):
        stranger = {"X-Forwarded-For": f"203.0.113.{number}"}
        assert api.login(name, f"guess {number}", **stranger).status_code == 401
    assert api.login(name, PASSWORD, **{"X-Forwarded-For": "192.0.2.99"}).status_code == 429


def _pat(api: Api, name: str) -> str:
    with api.runtime.sessions.begin() as session:
        return tokens.create_pat(session, name, "laptop").text


@contextmanager
def _signed_in(api: Api, name: str, address: str = "198.51.100.1") -> Iterator[httpx.Client]:
    """A dashboard session of ``name``, signed in with the password through ``POST /signin``
    from ``address``, sending the server's own ``Origin`` (as a browser does)."""
    headers = {"Origin": api.url, "X-Forwarded-For": address}
    with httpx.Client(base_url=api.url, timeout=30, headers=headers) as client:
        answer = client.post("/signin", data={"username": name, "secret": PASSWORD})
        assert (answer.status_code, answer.headers.get("location")) == (303, "/"), answer.text
        yield client


def _csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/account").text)
    assert found is not None
    return found.group(1)


def _alert(answer: httpx.Response) -> str:
    found = re.search(r'role="alert">([^<]*)<', answer.text)
    assert found is not None, answer.text[:2000]
    return found.group(1)


def _start_enrolment(client: httpx.Client) -> pyotp.TOTP:
    started = client.post("/account/2fa/start", data={"csrf_token": _csrf(client)})
    assert started.status_code == 303, started.text
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', client.get("/account").text)
    assert found is not None
    return pyotp.TOTP(found.group(1))


def _pats_and_totp(api: Api, name: str) -> tuple[list[str], bool]:
    with api.runtime.sessions() as session:
        labels = [pat.label for pat in tokens.list_pats(session, name)]
        return labels, service.get_user(session, name).totp_secret is not None


def test_a_pat_logs_in_while_strangers_lock_the_password(start_api: Callable[..., Api]) -> None:
    api = start_api(login_attempts_per_account=3, trusted_proxies="127.0.0.1")
    seed_user(api.runtime, "carol", "acme")
    pat = _pat(api, "carol")
    _locked_by_strangers(api, "carol", 3)
    here = {"X-Forwarded-For": "192.0.2.10"}
    assert api.login("carol", PASSWORD, **here).status_code == 429  # the password waits: kept
    logged_in = api.login("carol", pat, **here)
    assert logged_in.status_code == 200, logged_in.text
    listed = api.get("/api/publisher/analytics/v1/namespaces", logged_in.json()["token"])
    assert [entry["namespace"] for entry in listed.json()] == ["acme"]
    # the dashboard's sign-in is the same login
    with httpx.Client(base_url=api.url, timeout=30, headers={"Origin": api.url}) as client:
        signed_in = client.post("/signin", data={"username": "carol", "secret": pat})
    assert (signed_in.status_code, signed_in.headers.get("location")) == (303, "/")
    assert api.login("carol", PASSWORD, **here).status_code == 429  # still locked


def test_token_shaped_guesses_still_count_per_ip_and_as_passwords(
    start_api: Callable[..., Api],
) -> None:
    api = start_api(
        login_attempts_per_account=3, login_attempts_per_ip=4, trusted_proxies="127.0.0.1"
    )
    seed_user(api.runtime, "carol", "acme")
    seed_user(api.runtime, "dave", "acme")
    carol_pat, dave_pat = _pat(api, "carol"), _pat(api, "dave")
    _locked_by_strangers(api, "carol", 3)
    sprayer = {"X-Forwarded-For": "198.51.100.66"}
    # no live token, so a password guess, and carol's password is locked: refused unchecked
    for _ in range(4):
        assert api.login("carol", TOKEN_SHAPED, **sprayer).status_code == 429
    # each of them counted on the address: from there even a live token waits now
    blocked = api.login("carol", carol_pat, **sprayer)
    assert blocked.status_code == 429 and 1 <= int(blocked.headers["Retry-After"]) <= 15 * 60
    assert api.login("dave", dave_pat, **sprayer).status_code == 429
    assert api.login("carol", carol_pat, **{"X-Forwarded-For": "192.0.2.10"}).status_code == 200

    # on an account not locked, a token-shaped guess counts as a wrong password: no way
    # around the account's limit (and, as any wrong password, it holds back only passwords)
    for number in range(3):
        stranger = {"X-Forwarded-For": f"203.0.113.{50 + number}"}
        assert api.login("dave", TOKEN_SHAPED, **stranger).status_code == 401
    assert api.login("dave", PASSWORD, **{"X-Forwarded-For": "192.0.2.11"}).status_code == 429
    assert api.login("dave", dave_pat, **{"X-Forwarded-For": "192.0.2.11"}).status_code == 200


def test_the_owner_changes_the_password_while_strangers_lock_the_sign_in(
    start_api: Callable[..., Api],
) -> None:
    api = start_api(login_attempts_per_account=3, trusted_proxies="127.0.0.1")
    seed_user(api.runtime, "carol", "acme")
    with _signed_in(api, "carol") as client:  # signed in before the lock
        _locked_by_strangers(api, "carol", 3)
        form = {
            "csrf_token": _csrf(client),
            "old_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        }
        changed = client.post("/account/password", data=form)
        assert (changed.status_code, changed.headers["location"]) == (
            303,
            "/account?done=password",
        )
        # and, the password proved, she may make a token to go on with while it is locked
        made = client.post(
            "/account/tokens",
            data={
                "csrf_token": _csrf(client),
                "label": "while-locked",
                "scope:analytics:read": "1",
                "expires_days": "30",
                "password": NEW_PASSWORD,
            },
        )
        assert made.status_code == 303, made.text
    assert _pats_and_totp(api, "carol") == (["while-locked"], False)
    # the strangers' lock of the sign-in holds for the new password too (the documented price)
    assert api.login("carol", NEW_PASSWORD, **{"X-Forwarded-For": "192.0.2.12"}).status_code == 429


def test_the_owners_own_wrong_guesses_on_the_account_forms_are_limited(
    start_api: Callable[..., Api],
) -> None:
    """A session (the owner's typos, a stolen cookie) gets the sign-in's number of guesses a
    window on the account forms, all forms together, from any address; a wrong password there
    counts as a failed sign-in too. Another user is not held back."""
    api = start_api(login_attempts_per_account=3, trusted_proxies="127.0.0.1")
    seed_user(api.runtime, "erin", "acme")
    seed_user(api.runtime, "frank", "acme")
    with _signed_in(api, "erin") as client:
        totp_app = _start_enrolment(client)
        token_form = {"label": "guessed", "scope:analytics:read": "1", "expires_days": "30"}
        client.headers["X-Forwarded-For"] = "192.0.2.20"
        wrong_token = client.post(
            "/account/tokens", data={**token_form, "csrf_token": _csrf(client), "password": "x1"}
        )
        client.headers["X-Forwarded-For"] = "192.0.2.21"
        wrong_change = client.post(
            "/account/password",
            data={
                "csrf_token": _csrf(client),
                "old_password": "x2",
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            },
        )
        client.headers["X-Forwarded-For"] = "192.0.2.22"
        wrong_enrolment = client.post(
            "/account/2fa/confirm",
            data={"csrf_token": _csrf(client), "password": "x3", "code": totp_app.now()},
        )
        for answer in (wrong_token, wrong_change, wrong_enrolment):
            assert answer.status_code == 400
            assert _alert(answer) == "The current password is wrong."
        client.headers["X-Forwarded-For"] = "192.0.2.23"
        refused = client.post(
            "/account/tokens",
            data={**token_form, "csrf_token": _csrf(client), "password": PASSWORD},  # too late
        )
        assert refused.status_code == 429
        wait = re.fullmatch(
            r"Too many wrong attempts\. Try again in (\d+) seconds\.", _alert(refused)
        )
        assert wait is not None and refused.headers["Retry-After"] == wait.group(1)
        assert 1 <= int(wait.group(1)) <= 15 * 60
        again = client.post(
            "/account/2fa/confirm",
            data={"csrf_token": _csrf(client), "password": PASSWORD, "code": totp_app.now()},
        )
        assert again.status_code == 429
    assert _pats_and_totp(api, "erin") == ([], False)
    # the wrong passwords counted as failed sign-ins of erin's: her sign-in waits as well
    assert api.login("erin", PASSWORD, **{"X-Forwarded-For": "192.0.2.30"}).status_code == 429
    # frank, signed in from the same address, is not held back
    with _signed_in(api, "frank", address="192.0.2.23") as client:
        made = client.post(
            "/account/tokens",
            data={**token_form, "csrf_token": _csrf(client), "password": PASSWORD},
        )
        assert made.status_code == 303, made.text
    assert _pats_and_totp(api, "frank") == (["guessed"], False)


def test_making_a_token_or_turning_on_two_factor_needs_the_current_password(
    start_api: Callable[..., Api],
) -> None:
    """With a copied session cookie alone, no token that would outlive the owner's password
    change, and no second factor the owner does not have."""
    api = start_api()
    seed_user(api.runtime, "grace", "acme")
    with _signed_in(api, "grace") as client:
        token_form = {"label": "persistence", "scope:analytics:read": "1", "expires_days": ""}
        totp_app = _start_enrolment(client)
        refused = [
            client.post("/account/tokens", data={**token_form, "csrf_token": _csrf(client)}),
            client.post(
                "/account/tokens",
                data={**token_form, "csrf_token": _csrf(client), "password": "not it"},
            ),
            client.post(
                "/account/2fa/confirm", data={"csrf_token": _csrf(client), "code": totp_app.now()}
            ),
            client.post(
                "/account/2fa/confirm",
                data={"csrf_token": _csrf(client), "password": "not it", "code": totp_app.now()},
            ),
        ]
        for answer in refused:
            assert answer.status_code == 400
            assert _alert(answer) == "The current password is wrong."
            assert "pullstats_new_token" not in answer.headers.get("set-cookie", "")
        assert _pats_and_totp(api, "grace") == ([], False)
        assert api.login("grace", PASSWORD).status_code == 200  # no second factor asked

        # with the password, both work
        made = client.post(
            "/account/tokens",
            data={**token_form, "csrf_token": _csrf(client), "password": PASSWORD},
        )
        assert (made.status_code, made.headers["location"]) == (303, "/account?done=token#tokens")
        enrolled = client.post(
            "/account/2fa/confirm",
            data={"csrf_token": _csrf(client), "password": PASSWORD, "code": totp_app.now()},
        )
        assert (enrolled.status_code, enrolled.headers["location"]) == (
            303,
            "/account?done=2fa-on",
        )
    assert _pats_and_totp(api, "grace") == (["persistence"], True)
    second_step = api.login("grace", PASSWORD)
    assert second_step.status_code == 401 and "login_2fa_token" in second_step.json()
