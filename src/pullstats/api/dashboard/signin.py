"""``/signin`` (password or personal access token, then the TOTP step) and ``/signout``.

The same login steps as ``POST /v2/users/login`` and ``/v2/users/2fa-login`` (``api/auth.py``'s
``log_in`` and ``finish_two_factor``, with the same limiter), issuing a token of the session's
audience into an HttpOnly cookie instead of a JSON body. Between the two steps the
``login_2fa_token`` waits in an HttpOnly cookie of its own (five minutes, ``Path=/signin``):
no script ever reads a token.

Signing out revokes the session's token in the catalog (``accounts/login.py``'s
``revoke_session``) before deleting the cookie, so a copy of the cookie is refused too, by every
server, until it would have expired anyway.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pullstats.accounts import jwt_tokens
from pullstats.accounts.login import revoke_session
from pullstats.accounts.ratelimit import LoginLimiter
from pullstats.api.auth import (
    BAD_CREDENTIALS,
    LoginResult,
    client_address,
    login_limiter,
)
from pullstats.api.auth import (
    WRONG_CODE as CODE_REFUSED,
)
from pullstats.api.auth import finish_two_factor as finish_login
from pullstats.api.auth import log_in as start_login
from pullstats.api.dashboard.forms import posted_form
from pullstats.api.dashboard.session import (
    SESSION_AUDIENCE,
    SESSION_COOKIE,
    SIGNIN_PATH,
    TWO_FACTOR_COOKIE,
    delete_private_cookie,
    end_session,
    safe_next,
    set_private_cookie,
    set_session,
)
from pullstats.api.dashboard.templating import render
from pullstats.api.state import AppState, app_state

router = APIRouter(include_in_schema=False)

WRONG_SECRET = "Wrong user name, password or access token."
WRONG_CODE = "Wrong or already used code. Sign in again with your password, then a new code."
STALE_STEP = "The sign-in took too long or was already used. Sign in again."
EXPIRED = "Your session has ended. Sign in again to go on where you were."


def _throttled(wait: int) -> str:
    return f"Too many failed attempts. Try again in {wait} seconds."


def _form(
    request: Request, next_path: str, error: str | None, status: int, **extra: str
) -> Response:
    return render(
        request,
        "signin.html",
        status_code=status,
        next=next_path,
        error=error,
        notice=None,
        **extra,
    )


def _signed_in(request: Request, token: str, next_path: str) -> Response:
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_session(request, response, token)
    if request.cookies.get(TWO_FACTOR_COOKIE):
        delete_private_cookie(request, response, TWO_FACTOR_COOKIE, SIGNIN_PATH)
    return response


def _refused(request: Request, result: LoginResult, next_path: str, username: str = "") -> Response:
    """The sign-in form again, saying why, with the user name typed (only the secret again)."""
    if result.wait:
        response = _form(request, next_path, _throttled(result.wait), 429, username=username)
        response.headers["Retry-After"] = str(result.wait)
        return response
    message = WRONG_SECRET if result.problem == BAD_CREDENTIALS else STALE_STEP
    return _form(request, next_path, message, 401, username=username)


@router.get(SIGNIN_PATH)
async def signin_page(request: Request, next: str = "/", expired: str = "") -> Response:
    notice = EXPIRED if expired else None
    return render(request, "signin.html", next=safe_next(next), error=None, notice=notice)


@router.post(SIGNIN_PATH)
async def signin(
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    limiter: Annotated[LoginLimiter, Depends(login_limiter)],
) -> Response:
    form = await posted_form(request, session_bound=False)
    next_path = safe_next(form.get("next"))
    username, secret = form.get("username", "").strip(), form.get("secret", "")
    if not username or not secret:
        problem = "Enter your user name and a password or token."
        return _form(request, next_path, problem, 400, username=username)
    ip = client_address(request, state)
    result = await start_login(state, limiter, ip, username, secret, audience=SESSION_AUDIENCE)
    if result.token is not None:
        return _signed_in(request, result.token, next_path)
    if result.two_factor_token is None:
        return _refused(request, result, next_path, username)
    response = RedirectResponse(
        f"{SIGNIN_PATH}/2fa?next={quote(next_path, safe='')}", status_code=303
    )
    seconds = int(jwt_tokens.TWO_FACTOR_TTL.total_seconds())
    pending = result.two_factor_token
    set_private_cookie(request, response, TWO_FACTOR_COOKIE, pending, seconds, SIGNIN_PATH)
    return response


@router.get(f"{SIGNIN_PATH}/2fa")
async def two_factor_page(request: Request, next: str = "/") -> Response:
    if not request.cookies.get(TWO_FACTOR_COOKIE):
        return RedirectResponse(
            f"{SIGNIN_PATH}?next={quote(safe_next(next), safe='')}", status_code=303
        )
    return render(request, "signin_2fa.html", next=safe_next(next), error=None)


@router.post(f"{SIGNIN_PATH}/2fa")
async def two_factor(
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    limiter: Annotated[LoginLimiter, Depends(login_limiter)],
) -> Response:
    form = await posted_form(request, session_bound=False)
    next_path = safe_next(form.get("next"))
    pending = request.cookies.get(TWO_FACTOR_COOKIE)
    if not pending:
        return _form(request, next_path, STALE_STEP, 401)
    ip = client_address(request, state)
    code = form.get("code", "")
    result = await finish_login(state, limiter, ip, pending, code, audience=SESSION_AUDIENCE)
    if result.token is not None:
        return _signed_in(request, result.token, next_path)
    if result.wait:
        # the token was not spent: the same step may be tried again after the wait
        throttled = render(
            request,
            "signin_2fa.html",
            status_code=429,
            next=next_path,
            error=_throttled(result.wait),
        )
        throttled.headers["Retry-After"] = str(result.wait)
        return throttled
    # spent, right or wrong: one token, one guess (as /v2/users/2fa-login)
    message = WRONG_CODE if result.problem == CODE_REFUSED else STALE_STEP
    response = _form(request, next_path, message, 401)
    delete_private_cookie(request, response, TWO_FACTOR_COOKIE, SIGNIN_PATH)
    return response


@router.get("/signout")
async def signout_address() -> Response:
    """``/signout`` opened as a page: the overview (signing out takes the button's POST, so no
    link of another site signs anyone out)."""
    return RedirectResponse("/", status_code=303)


@router.post("/signout")
async def signout(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Response:
    # the origin is checked: no other site signs anyone out; a tab older than the session may
    await posted_form(request, session_bound=False)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            claims = jwt_tokens.verify(state.jwt_keys, token, audience=SESSION_AUDIENCE)
        except jwt_tokens.InvalidToken:
            claims = None  # expired or not ours: nothing the server would accept to end
        if claims is not None:
            await run_in_threadpool(
                revoke_session, state.runtime.sessions, claims.token_id, claims.expires
            )
    response = RedirectResponse(SIGNIN_PATH, status_code=303)
    end_session(request, response)
    return response
