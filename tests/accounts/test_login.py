"""Password, PAT and TOTP logins over a real socket, and the tokens they yield."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
from sqlalchemy import text, update

from pullstats.accounts import jwt_tokens, tokens, totp
from pullstats.api.request_bodies import MAX_BODY_BYTES
from pullstats.db.models import PersonalAccessToken
from pullstats.runtime import Runtime
from tests.accounts.conftest import PASSWORD, Api, run_pullstats, seed_user

PULLS = "/api/publisher/analytics/v1/namespaces/acme/pulls"
MFA = "Require secondary authentication on MFA enabled account"


def _pat(runtime: Runtime, user: str, expires: datetime | None = None) -> str:
    with runtime.sessions.begin() as session:
        return tokens.create_pat(session, user, "ci", expires_at=expires).text


def _enable_totp(runtime: Runtime, user: str) -> pyotp.TOTP:
    with runtime.sessions.begin() as session:
        uri = totp.enable_totp(session, user)
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    return parsed


def test_password_login_gives_a_working_token(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    token = api.token("alice")
    claims = jwt_tokens.verify(api.jwt_key, token)
    assert claims.pat_id is None
    assert api.get(PULLS, token).status_code == 200


def test_wrong_password_and_unknown_user_answer_alike(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    wrong = api.login("alice", "not it")
    unknown = api.login("nobody", "not it")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Incorrect authentication credentials"}


def test_login_body_is_checked(api: Api) -> None:
    with api.client() as client:
        assert client.post("/v2/users/login", json={"username": "a"}).status_code == 422
        huge = client.post("/v2/users/login", json={"username": "a", "password": "x" * 5000})
        assert huge.status_code == 422
        assert client.post("/v2/users/login", content=b"{").status_code == 422


def test_a_login_body_past_the_bound_is_refused_unread(start_api: Callable[..., Api]) -> None:
    """FastAPI reads and parses a JSON body whole before the model's max_length: a 300 MB
    login took 300 MB and more of the server's memory. A body past 1 MiB is a 413 now, whether
    its length is declared or it comes in chunks, and is no failed login of its account."""
    api = start_api(login_attempts_per_account=3)
    seed_user(api.runtime, "alice")
    pad = b"x" * MAX_BODY_BYTES
    body = b'{"username": "alice", "password": "wrong", "pad": "' + pad + b'"}'

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    json_type = {"Content-Type": "application/json"}
    with api.client() as client:
        for path, content in (
            ("/v2/users/login", body),
            ("/v2/users/login", chunks()),
            ("/v2/users/2fa-login", body),
        ):
            answer = client.post(path, content=content, headers=json_type)
            assert answer.status_code == 413, (path, answer.text)
            assert answer.json() == {"detail": f"request body larger than {MAX_BODY_BYTES} bytes"}
    # three failed logins would have locked the account: none was read, none counted
    assert api.login("alice", PASSWORD).status_code == 200


def test_pat_logs_in_and_its_jwt_carries_its_id(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    pat = _pat(api.runtime, "alice")
    token = api.token("alice", pat)
    assert jwt_tokens.verify(api.jwt_key, token).pat_id == pat.split("_")[1]
    assert api.get(PULLS, token).status_code == 200
    assert tokens.list_pats(api.runtime.sessions(), "alice")[0].last_used_at is not None


def test_pat_of_another_user_or_tampered_fails(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    seed_user(api.runtime, "bob", "bobs")
    pat = _pat(api.runtime, "alice")
    assert api.login("bob", pat).status_code == 401
    assert api.login("alice", pat[:-1] + ("A" if pat[-1] != "A" else "B")).status_code == 401


def test_revoking_a_pat_ends_its_logins_and_its_jwts(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    pat = _pat(api.runtime, "alice")
    token = api.token("alice", pat)
    password_token = api.token("alice")
    with api.runtime.sessions.begin() as session:
        assert tokens.revoke_pat(session, pat.split("_")[1])
    assert api.login("alice", pat).status_code == 401
    dead = api.get(PULLS, token)
    assert dead.status_code == 401 and dead.headers["WWW-Authenticate"] == "Bearer"
    assert api.get(PULLS, password_token).status_code == 200  # other logins are untouched


def test_an_expired_pat_fails_and_its_jwts_die(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    pat = _pat(api.runtime, "alice", datetime.now(UTC) + timedelta(days=1))
    token = api.token("alice", pat)
    with api.runtime.sessions.begin() as session:  # let a day pass
        session.execute(
            update(PersonalAccessToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert api.login("alice", pat).status_code == 401
    assert api.get(PULLS, token).status_code == 401


def test_disabling_a_user_ends_their_jwts(api: Api) -> None:
    from pullstats.accounts import service

    seed_user(api.runtime, "alice", "acme")
    token = api.token("alice")
    pat_token = api.token("alice", _pat(api.runtime, "alice"))
    with api.runtime.sessions.begin() as session:
        service.set_user_disabled(session, "alice", True)
    assert api.get(PULLS, token).status_code == 401
    assert api.get(PULLS, pat_token).status_code == 401
    assert api.login("alice", PASSWORD).status_code == 401


def test_re_enabling_a_user_revives_none_of_their_old_tokens(
    api: Api, data_dir: Path, database_url: str | None
) -> None:
    """``users disable`` then ``users enable`` (the real commands): every JWT and login_2fa_token
    issued before the disable stays dead; the password and the PAT log in again (issue 14 §2.6)."""
    seed_user(api.runtime, "alice", "acme")
    seed_user(api.runtime, "bob", "acme")
    pat = _pat(api.runtime, "alice")
    token = api.token("alice")
    pat_token = api.token("alice", pat)
    bob_token = api.token("bob")
    otp = _enable_totp(api.runtime, "bob")
    second = api.login("bob", PASSWORD).json()["login_2fa_token"]
    for user in ("alice", "bob"):
        assert run_pullstats(data_dir, database_url, "users", "disable", user).returncode == 0
        assert api.get(PULLS, token).status_code == 401
        assert run_pullstats(data_dir, database_url, "users", "enable", user).returncode == 0
    assert api.get(PULLS, token).status_code == 401
    assert api.get(PULLS, pat_token).status_code == 401
    assert api.get(PULLS, bob_token).status_code == 401
    with api.client() as client:
        late = client.post(
            "/v2/users/2fa-login", json={"login_2fa_token": second, "code": otp.now()}
        )
    assert late.status_code == 401, late.text
    # the credentials themselves still work, at once: new logins carry the new generation
    assert api.get(PULLS, api.token("alice")).status_code == 200
    assert api.get(PULLS, api.token("alice", pat)).status_code == 200


def test_an_operators_sql_disable_ends_old_tokens_for_good_too(api: Api) -> None:
    """The session generation is bumped by a trigger, so a disable that never went through our
    code (plain SQL) still ends the tokens issued before it."""
    seed_user(api.runtime, "alice", "acme")
    token = api.token("alice")
    for disabled in (True, False):
        with api.runtime.engine.begin() as connection:
            connection.execute(text("UPDATE users SET disabled = :d"), {"d": disabled})
    assert api.get(PULLS, token).status_code == 401
    assert api.get(PULLS, api.token("alice")).status_code == 200


def test_full_two_factor_flow(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    otp = _enable_totp(api.runtime, "alice")
    first = api.login("alice", PASSWORD)
    assert first.status_code == 401
    body = first.json()
    assert body["detail"] == MFA and set(body) == {"detail", "login_2fa_token"}
    with api.client() as client:
        done = client.post(
            "/v2/users/2fa-login",
            json={"login_2fa_token": body["login_2fa_token"], "code": otp.now()},
        )
    assert done.status_code == 200, done.text
    assert api.get(PULLS, done.json()["token"]).status_code == 200


def test_wrong_password_with_totp_on_gives_no_2fa_token(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    _enable_totp(api.runtime, "alice")
    assert api.login("alice", "not it").json() == {"detail": "Incorrect authentication credentials"}


def test_a_pat_never_asks_for_the_second_factor(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    _enable_totp(api.runtime, "alice")
    response = api.login("alice", _pat(api.runtime, "alice"))
    assert response.status_code == 200 and "token" in response.json()


def _second(api: Api, token: str, code: str) -> int:
    with api.client() as client:
        payload = {"login_2fa_token": token, "code": code}
        response = client.post("/v2/users/2fa-login", json=payload)
    assert set(response.json()) == ({"token"} if response.status_code == 200 else {"detail"})
    return response.status_code


def test_a_2fa_token_works_once(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    otp = _enable_totp(api.runtime, "alice")
    token = api.login("alice", PASSWORD).json()["login_2fa_token"]
    assert _second(api, token, otp.now()) == 200
    assert _second(api, token, otp.at(datetime.now(UTC) + timedelta(seconds=30))) == 401


def test_a_wrong_code_spends_the_2fa_token(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    otp = _enable_totp(api.runtime, "alice")
    token = api.login("alice", PASSWORD).json()["login_2fa_token"]
    wrong = f"{(int(otp.now()) + 1) % 1_000_000:06d}"
    assert _second(api, token, wrong) == 401
    assert _second(api, token, otp.now()) == 401


def test_a_totp_code_is_accepted_once(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    otp = _enable_totp(api.runtime, "alice")
    code = otp.now()
    first = api.login("alice", PASSWORD).json()["login_2fa_token"]
    second = api.login("alice", PASSWORD).json()["login_2fa_token"]
    assert _second(api, first, code) == 200
    assert _second(api, second, code) == 401


def test_an_expired_2fa_token_is_refused(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    otp = _enable_totp(api.runtime, "alice")
    valid = api.login("alice", PASSWORD).json()["login_2fa_token"]
    subject = jwt_tokens.verify(api.jwt_key, valid, audience=jwt_tokens.TWO_FACTOR_AUDIENCE).subject
    expired = jwt_tokens.issue(
        api.jwt_key, subject, timedelta(seconds=-1), audience=jwt_tokens.TWO_FACTOR_AUDIENCE
    )
    assert _second(api, expired, otp.now()) == 401
    assert _second(api, valid, otp.now()) == 200  # the same code was not spent by the refusal


def test_the_2fa_token_lives_five_minutes(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    _enable_totp(api.runtime, "alice")
    token = api.login("alice", PASSWORD).json()["login_2fa_token"]
    claims = jwt_tokens.verify(api.jwt_key, token, audience=jwt_tokens.TWO_FACTOR_AUDIENCE)
    left = claims.expires - datetime.now(UTC)
    assert timedelta(minutes=4) < left <= timedelta(minutes=5)


def test_a_2fa_token_is_no_bearer_token_and_an_api_token_no_2fa_token(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    otp = _enable_totp(api.runtime, "alice")
    second = api.login("alice", PASSWORD).json()["login_2fa_token"]
    refused = api.get(PULLS, second)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert api.get("/api/publisher/analytics/v1/", second).status_code == 401
    api_token = api.token("alice", _pat(api.runtime, "alice"))
    assert _second(api, api_token, otp.now()) == 401


def test_totp_disable_restores_password_only_login(api: Api) -> None:
    seed_user(api.runtime, "alice", "acme")
    _enable_totp(api.runtime, "alice")
    assert api.login("alice", PASSWORD).status_code == 401
    with api.runtime.sessions.begin() as session:
        assert totp.disable_totp(session, "alice")
    assert api.login("alice", PASSWORD).status_code == 200


def test_2fa_login_body_is_checked(api: Api) -> None:
    with api.client() as client:
        assert client.post("/v2/users/2fa-login", json={"code": "123456"}).status_code == 422
        garbage = client.post(
            "/v2/users/2fa-login", json={"login_2fa_token": "x.y.z", "code": "123456"}
        )
    assert garbage.status_code == 401 and "detail" in garbage.json()
