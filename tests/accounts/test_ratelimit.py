"""Login rate limits per account and per client IP; X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import time
from collections.abc import Callable
from ipaddress import ip_network

import pyotp

from pullstats.accounts import totp
from pullstats.accounts.ratelimit import LoginLimiter, client_ip
from tests.accounts.conftest import PASSWORD, Api, seed_user


def test_per_account_limit_answers_429_with_retry_after(start_api: Callable[..., Api]) -> None:
    api = start_api(login_attempts_per_account=3)
    seed_user(api.runtime, "alice", "acme")
    for _ in range(3):
        assert api.login("alice", "guess").status_code == 401
    blocked = api.login("alice", PASSWORD)  # even the right password waits
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 15 * 60
    assert "detail" in blocked.json()
    assert api.login("Alice", "guess").status_code == 429  # case does not dodge the limit
    seed_user(api.runtime, "bob", "bobco")
    assert api.login("bob", PASSWORD).status_code == 200  # other accounts are unaffected


def test_successful_logins_do_not_count(start_api: Callable[..., Api]) -> None:
    api = start_api(login_attempts_per_account=2, login_attempts_per_ip=2)
    seed_user(api.runtime, "alice", "acme")
    for _ in range(4):
        assert api.login("alice", PASSWORD).status_code == 200


def test_per_ip_limit_spans_accounts_and_ignores_untrusted_forwarded_for(
    start_api: Callable[..., Api],
) -> None:
    api = start_api(login_attempts_per_ip=3)
    for number in range(3):
        spoof = {"X-Forwarded-For": f"203.0.113.{number}"}
        assert api.login(f"user{number}", "guess", **spoof).status_code == 401
    blocked = api.login("someone-else", "guess", **{"X-Forwarded-For": "198.51.100.7"})
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers


def test_forwarded_for_is_believed_from_a_trusted_proxy(start_api: Callable[..., Api]) -> None:
    api = start_api(login_attempts_per_ip=2, trusted_proxies="127.0.0.1")
    for _ in range(2):
        assert api.login("x", "guess", **{"X-Forwarded-For": "203.0.113.1"}).status_code == 401
    assert api.login("y", "guess", **{"X-Forwarded-For": "203.0.113.1"}).status_code == 429
    # another client behind the same proxy is counted on its own
    assert api.login("z", "guess", **{"X-Forwarded-For": "203.0.113.2"}).status_code == 401
    # a client cannot pick its address by prepending to the header the proxy appends to
    forged = {"X-Forwarded-For": "198.51.100.9, 203.0.113.1"}
    assert api.login("w", "guess", **forged).status_code == 429


def test_2fa_login_failures_are_limited_per_ip(start_api: Callable[..., Api]) -> None:
    api = start_api(login_attempts_per_ip=2)
    with api.client() as client:
        for _ in range(2):
            bad = client.post("/v2/users/2fa-login", json={"login_2fa_token": "x", "code": "1"})
            assert bad.status_code == 401
        blocked = client.post("/v2/users/2fa-login", json={"login_2fa_token": "x", "code": "1"})
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers


def test_wrong_codes_are_limited_per_account_from_any_address(
    start_api: Callable[..., Api],
) -> None:
    """Each code guess costs a right password, which is forgiven: counted per IP alone, codes
    could be guessed from as many addresses as the guesser has. They count per account now."""
    api = start_api(login_attempts_per_account=3, trusted_proxies="127.0.0.1")
    seed_user(api.runtime, "carol", "acme")
    seed_user(api.runtime, "dave", "acme")
    with api.runtime.sessions.begin() as session:
        carol = pyotp.parse_uri(totp.enable_totp(session, "carol"))
        dave = pyotp.parse_uri(totp.enable_totp(session, "dave"))

    def code_step(user: str, code: str, address: str) -> int:
        where = {"X-Forwarded-For": address}
        first = api.login(user, PASSWORD, **where)
        assert first.status_code == 401, first.text  # the password is right: the code step
        payload = {"login_2fa_token": first.json()["login_2fa_token"], "code": code}
        with api.client() as client:
            return client.post("/v2/users/2fa-login", json=payload, headers=where).status_code

    now = time.time()
    valid = {carol.at(now + step) for step in (-60, -30, 0, 30, 60)}
    wrong = next(code for code in ("000000", "111111", "222222") if code not in valid)
    for number in range(3):  # three wrong codes, each from an address of its own
        assert code_step("carol", wrong, f"203.0.113.{number}") == 401
    assert code_step("carol", carol.now(), "198.51.100.7") == 429  # even the right code waits
    assert code_step("dave", dave.now(), "198.51.100.7") == 200  # other accounts are unaffected
    # the password step was never refused: its right passwords were forgiven
    assert api.login("carol", PASSWORD).status_code == 401


def test_codes_and_passwords_are_counted_apart() -> None:
    """A name typed at the password step never reaches an account's codes counter."""
    limiter = LoginLimiter(per_account=1, per_ip=100, window_seconds=60, clock=_Clock())
    assert limiter.attempt(None, "ip", codes_of=5) == 0
    assert limiter.attempt("5", "ip") == 0  # a user named "5": its passwords are counted apart
    assert limiter.attempt(None, "ip", codes_of=5) == 60
    assert limiter.attempt(None, "ip", codes_of=6) == 0
    limiter.succeeded(None, "ip", codes_of=6)
    assert limiter.attempt(None, "ip", codes_of=6) == 0  # forgiven


def test_account_forms_are_counted_per_user_apart_from_sign_ins() -> None:
    """Strangers' failed sign-ins never stop the owner's account forms (``forms_of``); the
    forms' wrong passwords count as failed sign-ins, unless the sign-in is locked already."""
    clock = _Clock()
    limiter = LoginLimiter(per_account=2, per_ip=100, window_seconds=60, clock=clock)
    assert limiter.attempt("alice", "ip") == 0  # strangers, at +0 and +10
    clock.now += 10
    assert limiter.attempt("alice", "other ip") == 0
    clock.now += 10
    assert limiter.attempt("alice", "third ip") == 40
    assert limiter.attempt(None, None, forms_of=7) == 0  # alice (user 7), signed in
    limiter.failed_elsewhere("alice")  # her sign-in is locked already: not counted again
    assert limiter.attempt("alice", "third ip") == 40  # (counted, +0 would leave: 50)
    assert limiter.attempt(None, None, forms_of=7) == 0
    assert limiter.attempt(None, None, forms_of=7) == 60  # her own guesses are limited
    assert limiter.attempt(None, None, forms_of=8) == 0  # per user
    limiter.succeeded(None, None, forms_of=8)
    assert limiter.attempt(None, None, forms_of=8) == 0  # forgiven
    assert limiter.attempt("8", "ip") == 0  # a user named "8": counted apart
    limiter.failed_elsewhere("bob")  # counted as a failed sign-in of bob's
    assert limiter.attempt("Bob", "ip") == 0
    assert limiter.attempt("bob", "ip") == 60


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limiter_window_slides() -> None:
    clock = _Clock()
    limiter = LoginLimiter(per_account=2, per_ip=100, window_seconds=60, clock=clock)
    assert limiter.attempt("alice", "ip") == 0
    clock.now += 10
    assert limiter.attempt("alice", "ip") == 0
    assert limiter.attempt("alice", "ip") == 50  # the first failure leaves the window at +60
    clock.now += 50
    assert limiter.attempt("alice", "ip") == 0
    limiter.succeeded("alice", "ip")  # forgiven: a success does not count
    clock.now += 1
    assert limiter.attempt("alice", "ip") == 0  # failures at +10 and +61 now
    assert limiter.attempt("alice", "ip") == 9  # until +10 leaves the window at +70
    assert limiter.attempt("bob", "ip") == 0  # per account


def test_client_ip_reads_forwarded_for_only_behind_trusted_proxies() -> None:
    proxies = (ip_network("10.0.0.0/8"),)
    assert client_ip("198.51.100.1", "1.2.3.4", proxies) == "198.51.100.1"
    assert client_ip("10.0.0.5", "1.2.3.4", proxies) == "1.2.3.4"
    assert client_ip("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.9", proxies) == "1.2.3.4"
    assert client_ip("10.0.0.5", "garbage", proxies) == "10.0.0.5"
    assert client_ip("10.0.0.5", "10.0.0.7", proxies) == "10.0.0.7"
    assert client_ip("10.0.0.5", None, proxies) == "10.0.0.5"
    assert client_ip("10.0.0.5", "1.2.3.4", ()) == "10.0.0.5"
