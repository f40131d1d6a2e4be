"""Docker Hub–compatible login at the host root, and the bearer-JWT dependency of the API.

``POST /v2/users/login`` takes a password or a personal access token; with TOTP on, a password
login answers 401 with a ``login_2fa_token`` that ``POST /v2/users/2fa-login`` exchanges, with
a code, for the API token. Both are rate limited per account and client IP.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool

from pullstats.accounts import jwt_tokens
from pullstats.accounts.access import active_principal, readable_scope
from pullstats.accounts.login import (
    LoginOutcome,
    authenticate_password,
    authenticate_token,
    looks_like_token,
    second_factor,
    spend_two_factor_token,
)
from pullstats.accounts.ratelimit import LoginLimiter, client_ip
from pullstats.accounts.service import INGEST_PREFIX
from pullstats.accounts.tokens import PAT_PREFIX
from pullstats.api.models import (
    ErrorDetail,
    LoginError,
    LoginRequest,
    LoginToken,
    TwoFactorLoginError,
    TwoFactorLoginRequest,
)
from pullstats.api.state import AppState, app_state, request_versions
from pullstats.api.viewer import ANALYTICS_SCOPE, ResolvedViewer, Viewer
from pullstats.db.state import CatalogVersions

router = APIRouter(tags=["authentication"])
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="HubAuth",
    bearerFormat="JWT",
    description="A JWT from POST /v2/users/login.",
)

#: Docker Hub's words: clients recognise the second-factor step by this text.
MFA_REQUIRED = "Require secondary authentication on MFA enabled account"
BAD_CREDENTIALS = "Incorrect authentication credentials"
WRONG_CODE = "incorrect or already used code: log in again"

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorDetail, "description": "Missing, invalid or expired token."}
}
_LOGIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    # FastAPI's own answer to a body it cannot decode (not UTF-8, for instance)
    400: {"model": ErrorDetail, "description": "The body could not be read."},
    401: {"model": LoginError, "description": "Authentication failed or second factor required."},
    429: {"model": ErrorDetail, "description": "Too many failed attempts; see Retry-After."},
}
_TWO_FACTOR_RESPONSES = _LOGIN_RESPONSES | {
    401: {
        "model": TwoFactorLoginError,
        "description": "The code is wrong or used, or the login token invalid or expired.",
    }
}


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, split as FastAPI's HTTPBearer
    splits it, for the ways in that answer before the router (cached answers, ingest)."""
    scheme, token = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and token) or scheme.lower() != "bearer":
        return None
    return token


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def _user_id(subject: str) -> int | None:
    # the subject is signed by us, but a non-ASCII digit or a huge number must not reach SQL
    if not subject.isascii() or not subject.isdigit() or len(subject) > 9:
        return None
    return int(subject)


def _resolve(
    state: AppState, claims: jwt_tokens.Claims, user_id: int, epoch: int, audience: str
) -> ResolvedViewer | int:
    """The viewer from the catalog, or the status to refuse with (401 gone, 403 scope)."""
    with state.runtime.sessions() as session:
        principal = active_principal(
            session, user_id, claims.pat_id, claims.session_generation, claims.token_id
        )
        if principal is None:
            return 401
        if ANALYTICS_SCOPE not in principal.scopes:
            return 403
        scope = readable_scope(session, principal.user_id)
    viewer = Viewer(principal.user_id, principal.name, tuple(scope), scope, principal.scopes)
    expires = min(claims.expires, principal.expires or claims.expires)
    return ResolvedViewer(viewer, epoch, expires.timestamp(), audience)


async def viewer_of_token(
    state: AppState,
    versions: CatalogVersions,
    token: str,
    audience: str = jwt_tokens.LOGIN_AUDIENCE,
) -> Viewer:
    """The viewer a login token (of ``audience``) stands for: from the cache while the accounts
    epoch holds, else the catalog; 401 (or 403 for a missing scope) when it stands for nobody.

    The API's bearer check and the dashboard's session cookie (``api/dashboard/session.py``,
    its own audience) both resolve through here. Every accounts change bumps the epoch in the
    same transaction (migration 0004), and the epoch is read on every request, so a revoked
    token or a removed membership is refused on the very next request, by every server process.
    """
    cached = state.viewers.get(token)
    if (
        cached is not None
        and cached.audience == audience  # verified for this use, not only for another
        and cached.accounts_epoch == versions.accounts_epoch
        and time.time() < cached.expires
    ):
        return cached.viewer
    misplaced = _misplaced_secret(token)
    if misplaced:
        raise _unauthorized(f"invalid token: {misplaced}")
    try:
        # one audience only: a login_2fa_token, or a session cookie sent as a bearer token, is
        # refused
        claims = jwt_tokens.verify(state.jwt_keys, token, audience=audience)
    except jwt_tokens.InvalidToken as error:
        raise _unauthorized(f"invalid token: {error}") from None
    user_id = _user_id(claims.subject)
    if user_id is None:
        raise _unauthorized("invalid token: bad subject")
    resolved = await run_in_threadpool(
        _resolve, state, claims, user_id, versions.accounts_epoch, audience
    )
    if resolved == 401:
        raise _unauthorized("invalid token: the account or access token is no longer active")
    if resolved == 403:
        raise HTTPException(403, detail=f"the access token lacks the {ANALYTICS_SCOPE} scope")
    assert isinstance(resolved, ResolvedViewer)
    state.viewers.put(token, resolved)
    return resolved.viewer


def _misplaced_secret(token: str) -> str | None:
    """What a personal access token or an ingest token sent as a login token is for, and how to
    get in instead (a JWT parser would say "Not enough segments"); None for any other token."""
    if token.startswith(f"{PAT_PREFIX}_"):
        return (
            "a personal access token is not a bearer token: log in with it as the password "
            "(POST /v2/users/login) and send the token that answers"
        )
    if token.startswith(f"{INGEST_PREFIX}_"):
        return (
            "an ingest token only sends a registry's events: log in (POST /v2/users/login) "
            "and send the token that answers"
        )
    return None


async def current_viewer(
    state: Annotated[AppState, Depends(app_state)],
    versions: Annotated[CatalogVersions, Depends(request_versions)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    """The request's viewer, from its ``Authorization: Bearer`` token (:func:`viewer_of_token`)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("authentication required: send Authorization: Bearer <token>")
    return await viewer_of_token(state, versions, credentials.credentials)


def login_limiter(request: Request, state: Annotated[AppState, Depends(app_state)]) -> LoginLimiter:
    """The app's limiter, made on first use (one per process: see accounts/ratelimit.py)."""
    limiter: LoginLimiter | None = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        settings = state.runtime.settings
        limiter = LoginLimiter(
            settings.login_attempts_per_account,
            settings.login_attempts_per_ip,
            settings.login_attempts_window.total_seconds(),
        )
        request.app.state.login_limiter = limiter
    return limiter


def client_address(request: Request, state: AppState) -> str:
    """The client's IP as the login limits count it (``X-Forwarded-For`` from trusted proxies)."""
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    peer = request.client.host if request.client else None
    return client_ip(peer, forwarded, state.runtime.settings.trusted_proxy_networks)


@dataclass(frozen=True)
class LoginResult:
    """What a login step came to: exactly one of a token, a second-factor token, a wait (the
    limiter's, in whole seconds) or a problem (the refusal's message)."""

    token: str | None = None
    two_factor_token: str | None = None
    wait: int = 0
    problem: str | None = None


async def log_in(
    state: AppState,
    limiter: LoginLimiter,
    ip: str,
    username: str,
    secret: str,
    audience: str = jwt_tokens.LOGIN_AUDIENCE,
) -> LoginResult:
    """A password or personal access token login, limited per account and IP; a token of
    ``audience`` (the API's, or the dashboard session's), or the second-factor step.

    A secret of a personal access token's shape is checked before the account's counter: a
    token is 256 random bits nobody guesses, so a live one logs in while strangers' wrong
    passwords hold the account's password back. Its IP counts it all the same (spraying
    token-shaped guesses is limited as any other); one that is no live token is then tried
    as a password, which the account's counter limits as it limits every password."""
    token_shaped = looks_like_token(secret)
    counted = None if token_shaped else username  # the account, once counted
    wait = limiter.attempt(counted, ip)
    if wait:
        return LoginResult(wait=wait)

    def token_check() -> LoginOutcome | None:
        with state.runtime.sessions.begin() as session:  # begin: a PAT login stamps last use
            return authenticate_token(session, username, secret)

    def password_check() -> LoginOutcome | None:
        with state.runtime.sessions() as session:
            return authenticate_password(session, username, secret)

    # a live personal access token is a SHA-256: it never waits behind the password checks,
    # which are argon2 (tens of milliseconds of CPU) and run a few at a time, off the loop
    outcome = await run_in_threadpool(token_check) if token_shaped else None
    if outcome is None and token_shaped:
        counted = username  # no live token: a password guess now (its IP counted it already)
        wait = limiter.attempt(counted, None)
        if wait:
            return LoginResult(wait=wait)
    if outcome is None:
        outcome = await state.password_check(password_check)
    if outcome is None:
        return LoginResult(problem=BAD_CREDENTIALS)
    limiter.succeeded(counted, ip)
    subject = str(outcome.user_id)
    if outcome.needs_second_factor:
        second = jwt_tokens.issue(
            state.jwt_keys.signing_key(),
            subject,
            jwt_tokens.TWO_FACTOR_TTL,
            audience=jwt_tokens.TWO_FACTOR_AUDIENCE,
            session_generation=outcome.session_generation,
        )
        return LoginResult(two_factor_token=second)
    token = jwt_tokens.issue(
        state.jwt_keys.signing_key(),
        subject,
        state.runtime.settings.jwt_ttl,
        audience=audience,
        pat_id=outcome.pat_id,
        session_generation=outcome.session_generation,
    )
    return LoginResult(token=token)


async def finish_two_factor(
    state: AppState,
    limiter: LoginLimiter,
    ip: str,
    two_factor_token: str,
    code: str,
    audience: str = jwt_tokens.LOGIN_AUDIENCE,
) -> LoginResult:
    """The second step: a ``login_2fa_token`` (spent here, one guess each) and a TOTP code.

    Wrong codes count per IP and per account, as wrong passwords do, but on an account counter
    of their own (``codes_of``): the right password that each ``login_2fa_token`` costs is
    forgiven, so counting codes per IP alone let someone who knows the password guess codes
    from as many addresses as they have."""
    expired = "the login_2fa_token is invalid or has expired: log in again"
    try:
        claims = jwt_tokens.verify(
            state.jwt_keys, two_factor_token, audience=jwt_tokens.TWO_FACTOR_AUDIENCE
        )
    except jwt_tokens.InvalidToken:
        claims = None
    user_id = None if claims is None else _user_id(claims.subject)
    wait = limiter.attempt(None, ip, codes_of=user_id)  # an invalid token: a failure of its IP
    if wait:
        return LoginResult(wait=wait)
    if claims is None or user_id is None:
        return LoginResult(problem=expired)

    def check() -> str | None:
        # spent before the code is checked: one token, one guess
        if not spend_two_factor_token(state.runtime.sessions, claims.token_id, claims.expires):
            return "the login_2fa_token has already been used: log in again"
        with state.runtime.sessions.begin() as session:
            if not second_factor(session, user_id, code, claims.session_generation):
                return WRONG_CODE
        return None

    problem = await run_in_threadpool(check)
    if problem is not None:
        return LoginResult(problem=problem)
    limiter.succeeded(None, ip, codes_of=user_id)
    token = jwt_tokens.issue(
        state.jwt_keys.signing_key(),
        claims.subject,
        state.runtime.settings.jwt_ttl,
        audience=audience,
        session_generation=claims.session_generation,
    )
    return LoginResult(token=token)


def _too_many(wait: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"too many failed login attempts: try again in {wait} s"},
        status_code=429,
        headers={"Retry-After": str(wait)},
    )


def _answer(result: LoginResult) -> LoginToken | JSONResponse:
    if result.wait:
        return _too_many(result.wait)
    if result.two_factor_token is not None:
        body = {"detail": MFA_REQUIRED, "login_2fa_token": result.two_factor_token}
        return JSONResponse(body, status_code=401)
    if result.token is None:
        return JSONResponse({"detail": result.problem}, status_code=401)
    return LoginToken(token=result.token)


@router.post(
    "/v2/users/login",
    operation_id="PostUsersLogin",
    response_model=LoginToken,
    responses=_LOGIN_RESPONSES,
    summary="Log in with a password or personal access token and get a JWT",
)
async def login(
    body: LoginRequest,
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    limiter: Annotated[LoginLimiter, Depends(login_limiter)],
) -> LoginToken | JSONResponse:
    ip = client_address(request, state)
    return _answer(await log_in(state, limiter, ip, body.username, body.password))


@router.post(
    "/v2/users/2fa-login",
    operation_id="PostUsers2FALogin",
    response_model=LoginToken,
    responses=_TWO_FACTOR_RESPONSES,
    summary="Complete a login with a TOTP code and get a JWT",
)
async def two_factor_login(
    body: TwoFactorLoginRequest,
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    limiter: Annotated[LoginLimiter, Depends(login_limiter)],
) -> LoginToken | JSONResponse:
    ip = client_address(request, state)
    return _answer(await finish_two_factor(state, limiter, ip, body.login_2fa_token, body.code))
