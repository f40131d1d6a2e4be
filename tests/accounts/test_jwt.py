"""Bearer JWTs: expiry and tampering are refused with 401 and WWW-Authenticate: Bearer."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import jwt
import pytest

from pullstats.accounts import jwt_tokens
from pullstats.accounts.service import create_ingest_token
from pullstats.accounts.tokens import create_pat
from tests.accounts.conftest import (
    CATALOG_PARAMS,
    Api,
    accounts_settings,
    catalog_database_url,
    seed_user,
    serving,
)
from tests.conftest import fresh_runtime

PULLS = "/api/publisher/analytics/v1/namespaces/acme/pulls"

# the module's tests on one worker, so that each catalog's server is started once
pytestmark = pytest.mark.xdist_group("accounts-jwt")


@pytest.fixture(scope="module", params=CATALOG_PARAMS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server per catalog for the module, with alice (user 1) and bob (user 2) in acme: every
    test only signs alice in and sends tokens the server must refuse (or makes tokens of bob's),
    which changes nothing another test reads."""
    database_url = catalog_database_url(request.param)
    settings = accounts_settings(tmp_path_factory.mktemp("jwt") / "data", database_url)
    runtime = fresh_runtime(settings)
    try:
        seed_user(runtime, "alice", "acme")
        seed_user(runtime, "bob", "acme")
        with serving(settings, runtime) as server:
            yield server
    finally:
        runtime.close()


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _refused(api: Api, token: str) -> None:
    response = api.get(PULLS, token)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert token not in response.text  # a token never comes back in an error


def test_missing_or_malformed_header(api: Api) -> None:
    missing = api.get(PULLS, None)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    with api.client() as client:
        basic = client.get(PULLS, headers={"Authorization": "Basic YWxpY2U6eA=="})
    assert basic.status_code == 401
    _refused(api, "not-a-jwt")


def test_expired_token(api: Api) -> None:
    user_id = jwt_tokens.verify(api.jwt_key, api.token("alice")).subject
    _refused(api, jwt_tokens.issue(api.jwt_key, user_id, timedelta(seconds=-1)))


def test_alg_none(api: Api) -> None:
    good = api.token("alice")
    payload = jwt.decode(good, options={"verify_signature": False})
    _refused(api, f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(payload)}.")


def test_wrong_key(api: Api) -> None:
    payload = jwt.decode(api.token("alice"), options={"verify_signature": False})
    _refused(api, jwt.encode(payload, b"k" * 32, algorithm="HS256"))


@pytest.mark.parametrize(
    "change",
    [{"sub": "2"}, {"exp": 4102444800}, {"aud": "pullstats:2fa-login"}, {"pat_id": "0" * 16}],
    ids=["sub", "exp", "aud", "pat_id"],
)
def test_changed_claims_break_the_signature(api: Api, change: dict[str, object]) -> None:
    header, payload, signature = api.token("alice").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(change)
    _refused(api, f"{header}.{_b64(claims)}.{signature}")


def test_missing_claims_and_other_audiences(api: Api) -> None:
    key = api.jwt_key
    user_id = jwt_tokens.verify(key, api.token("alice")).subject
    _refused(api, jwt.encode({"sub": user_id, "aud": jwt_tokens.LOGIN_AUDIENCE}, key, "HS256"))
    _refused(api, jwt_tokens.issue(key, user_id, timedelta(minutes=5), audience="elsewhere"))
    _refused(api, jwt_tokens.issue(key, "99999", timedelta(minutes=5)))  # no such user
    _refused(api, jwt_tokens.issue(key, "١", timedelta(minutes=5)))  # a non-ASCII digit
    # the same key and claims, properly signed, are accepted: the refusals above are real
    assert api.get(PULLS, jwt_tokens.issue(key, user_id, timedelta(minutes=5))).status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        {"exp": 1e20},
        {"exp": 10**30},
        {"iat": -(10**20)},
        {"iat": -1e20},
        {"nbf": -1e20},
        {"exp": 4102444800.5},
        {"exp": "4102444800"},
    ],
    ids=[
        "exp-1e20",
        "exp-huge-int",
        "iat-huge-negative",
        "iat-float",
        "nbf",
        "exp-fraction",
        "exp-text",
    ],
)
def test_absurd_time_claims_are_401_not_500(api: Api, change: dict[str, object]) -> None:
    """Signed with the server's own key, so only the claims' values are wrong (issue 14 §2.7)."""
    claims = jwt.decode(api.token("alice"), options={"verify_signature": False})
    claims.update(change)
    _refused(api, jwt.encode(claims, api.jwt_key, algorithm="HS256"))


@pytest.mark.parametrize(
    "jti",
    [7, ["a"], {"a": 1}, True, "", "a\x00b", "x" * 65, "é" * 8, "a b", "a'b"],
    ids=[
        "number",
        "list",
        "object",
        "bool",
        "empty",
        "nul",
        "too-long",
        "non-ascii",
        "space",
        "quote",
    ],
)
def test_a_malformed_jti_is_401_not_500(api: Api, jti: object) -> None:
    """The jti is looked up in the catalog (signed-out sessions): signed with the server's own
    key, a jti no token of ours has must be refused before it reaches SQL."""
    claims = jwt.decode(api.token("alice"), options={"verify_signature": False})
    claims["jti"] = jti
    _refused(api, jwt.encode(claims, api.jwt_key, algorithm="HS256"))


@pytest.mark.parametrize("pat_id", [7, "", "a\x00b", "x" * 65, "a b"])
def test_a_malformed_pat_id_is_401_not_500(api: Api, pat_id: object) -> None:
    """The same for ``pat_id``, read from the catalog for a PAT's JWT: with a NUL in it,
    PostgreSQL answered the lookup with an error, and the API with a 500."""
    claims = jwt.decode(api.token("alice"), options={"verify_signature": False})
    claims["pat_id"] = pat_id
    _refused(api, jwt.encode(claims, api.jwt_key, algorithm="HS256"))


def test_a_personal_access_token_or_an_ingest_token_as_bearer_names_the_way_in(api: Api) -> None:
    """Sent where a login token goes, a PAT or an ingest token is named, with the way in (a JWT
    parser's "Not enough segments" named none), and the way it names works."""
    with api.runtime.sessions.begin() as session:
        pat = create_pat(session, "bob", "ci").text
        ingest = create_ingest_token(session, "registry").text
    for token, says in (
        (
            pat,
            "a personal access token is not a bearer token: log in with it as the password "
            "(POST /v2/users/login) and send the token that answers",
        ),
        (
            ingest,
            "an ingest token only sends a registry's events: log in (POST /v2/users/login) "
            "and send the token that answers",
        ),
    ):
        _refused(api, token)
        assert api.get(PULLS, token).json() == {"detail": f"invalid token: {says}"}
    login = api.login("bob", pat)
    assert login.status_code == 200, login.text
    assert api.get(PULLS, login.json()["token"]).status_code == 200
