"""``/account``: change the password, turn the TOTP second factor on or off, and manage
personal access tokens — through the account service the CLI uses (``pullstats.accounts``).

Every change is a form POST checked by ``forms.py`` and answered by a redirect back to the
page with what happened (``?done=``), except a new token, shown once on the answer itself.
Each form's address ends in its card's fragment (``/account/tokens#tokens``): the browser keeps
it on the answer, a refusal or the redirect after a change, so the page opens at that card,
where the outcome is shown, not above the fold.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pullstats.accounts import jwt_tokens, password_changes, service, tokens, totp
from pullstats.accounts.errors import AccountError
from pullstats.accounts.passwords import verify_password
from pullstats.api.auth import login_limiter
from pullstats.api.dashboard.forms import posted_form
from pullstats.api.dashboard.session import (
    SESSION_AUDIENCE,
    delete_private_cookie,
    page_viewer,
    password_viewer,
    set_private_cookie,
    set_session,
    signed_in_with_token,
)
from pullstats.api.dashboard.templating import render
from pullstats.api.dashboard.token_lifetimes import DEFAULT_LIFETIME, LIFETIMES
from pullstats.api.state import AppState, app_state
from pullstats.api.viewer import Viewer

router = APIRouter(include_in_schema=False)

PATH = "/account"
#: the secret of an enrolment not confirmed yet, signed, for ten minutes, on /account only
ENROLMENT_COOKIE = "pullstats_totp_enrolment"
ENROLMENT_SECONDS = 600

DONE = {
    "password": "Your password is changed. Every other session and API token has ended.",
    "2fa-on": "Two-factor authentication is on: signing in with a password now asks for a code.",
    "2fa-off": "Two-factor authentication is off.",
    "revoked": "The token is revoked: it no longer signs in, and API tokens from it have ended.",
    # the page after making a token, opened again: the secret was shown on its first showing
    "token": "The token is made. Its secret was shown once; if you have no copy, revoke the "
    "token and make another.",
}
#: the card (its id, its form's fragment) that shows each ``?done=``: where the page opens
DONE_IN = {"password": "password", "2fa-on": "two-factor", "2fa-off": "two-factor"}


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg: str


def _enrolment_message(user_id: int, secret: str, expires: int) -> bytes:
    return f"totp-enrolment:{user_id}:{secret}:{expires}".encode()


def _enrolment_cookie(state: AppState, user_id: int, secret: str) -> str:
    expires = int(time.time()) + ENROLMENT_SECONDS
    mac = state.jwt_keys.signs(_enrolment_message(user_id, secret, expires))
    return f"{secret}.{expires}.{mac}"


def _pending_secret(request: Request, state: AppState, user_id: int) -> str | None:
    """The secret of this user's enrolment in progress, if its cookie is genuine and fresh."""
    value = request.cookies.get(ENROLMENT_COOKIE, "")
    secret, _, rest = value.partition(".")
    expires_text, _, mac = rest.partition(".")
    if not (secret and expires_text.isascii() and expires_text.isdigit()):
        return None
    if len(expires_text) > 12 or int(expires_text) < time.time():
        return None
    message = _enrolment_message(user_id, secret, int(expires_text))
    return secret if state.jwt_keys.signed(message, mac) else None


def _enrolment(name: str, secret: str) -> Enrolment:
    uri = totp.provisioning_uri(name, secret)
    qr = segno.make(uri, error="m")
    svg = qr.svg_inline(scale=4, dark="#000000", light="#ffffff", omitsize=True)
    return Enrolment(secret, uri, svg)


def answer_page(
    request: Request,
    state: AppState,
    viewer: Viewer,
    status_code: int = 200,
    **context: Any,
) -> Response:
    with state.runtime.sessions() as session:
        user = service.get_user(session, viewer.name)
        has_totp = user.totp_secret is not None
        has_password = user.password_hash is not None
        pats = tokens.list_pats(session, viewer.name)
    pending = None if has_totp else _pending_secret(request, state, viewer.user_id)
    done = request.query_params.get("done", "")
    values: dict[str, Any] = {
        "has_totp": has_totp,
        "has_password": has_password,
        "pats": pats,
        "scopes": tokens.SCOPES,
        "pat_prefix": tokens.PAT_PREFIX,
        "enrolment": _enrolment(viewer.name, pending) if pending else None,
        "done": DONE.get(done),
        "done_section": DONE_IN.get(done, "tokens"),
        "error": STALE if "stale" in request.query_params else None,
        "new_token": None,
        "section": None,
        #: the new-token form as it was posted, when it was refused (never its password)
        "token_form": None,
        "lifetimes": LIFETIMES,
        "default_lifetime": DEFAULT_LIFETIME,
        "token_session": signed_in_with_token(request),
    }
    values.update(context)
    return render(request, "account.html", status_code=status_code, **values)


class PasswordGuess:
    """A form that checks the current password (or a code) of the signed-in account.

    Its wrong guesses count on the user's own counter (the limiter's ``forms_of``), never on
    the sign-in's: strangers failing to sign in as the user cannot stop the owner here, and a
    session (a borrowed laptop, a stolen cookie) still gets no more guesses a window here than
    the sign-in page gives (PULLSTATS_LOGIN_ATTEMPTS_PER_ACCOUNT): with the sign-in page's,
    twice that. A wrong password counts as a failed sign-in of the account too (unless that is
    locked already: :meth:`wrong_password`)."""

    def __init__(self, request: Request, state: AppState, viewer: Viewer) -> None:
        self.request, self.state, self.viewer = request, state, viewer
        self.limiter = login_limiter(request, state)
        # counted until it is right
        self.wait = self.limiter.attempt(None, None, forms_of=viewer.user_id)

    def right(self) -> None:
        self.limiter.succeeded(None, None, forms_of=self.viewer.user_id)

    def wrong_password(self) -> None:
        self.limiter.failed_elsewhere(self.viewer.name)

    async def refused(self, section: str, **context: Any) -> Response:
        problem = f"Too many wrong attempts. Try again in {self.wait} seconds."
        context.update(error=problem, section=section)
        page = await run_in_threadpool(
            answer_page, self.request, self.state, self.viewer, 429, **context
        )
        page.headers["Retry-After"] = str(self.wait)  # as the sign-in page's 429
        return page


#: a wrong current password, on the forms that ask for it
WRONG_PASSWORD = "The current password is wrong."
ALREADY_ON = "Two-factor authentication is already on."


def sentence(text: str) -> str:
    """A refusal of the account service (``AccountError``: lower-case, no full stop, as the
    CLI shows it) as the page says it."""
    return f"{text[:1].upper()}{text[1:]}."


def password_is_right(session: Session, name: str, password: str) -> bool:
    """Whether ``password`` is ``name``'s current password: one argon2 verification (in the
    app's bounded pool, ``state.password_check``)."""
    return verify_password(service.get_user(session, name).password_hash, password)


#: The account page shown again for a form of an earlier session (forms.StaleForm).
STALE = (
    "That form was on a page of an earlier session: you signed in again or changed the "
    "password in another tab or window. Nothing was changed; use the form below."
)


def form_of_an_earlier_session(request: Request, error: Exception) -> Response:
    """A form whose session changed since its page was shown: the page again, up to date,
    at its top, where this is said (the form's own fragment, which the browser would keep
    through the redirect, would hide it)."""
    return RedirectResponse(f"{PATH}?stale#main", status_code=303)


def back_to_account(done: str) -> RedirectResponse:
    return RedirectResponse(f"{PATH}?done={done}", status_code=303)


#: The cookie that carries a new token's secret to the page that shows it, once.
NEW_TOKEN_COOKIE = "pullstats_new_token"
NEW_TOKEN_SECONDS = 60


@router.get(PATH)
def account_page(
    request: Request,
    viewer: Annotated[Viewer, Depends(page_viewer)],
    state: Annotated[AppState, Depends(app_state)],
) -> Response:
    new_token = request.cookies.get(NEW_TOKEN_COOKIE)
    if not new_token:
        return answer_page(request, state, viewer)
    response = answer_page(request, state, viewer, new_token=new_token, section="tokens", done=None)
    delete_private_cookie(request, response, NEW_TOKEN_COOKIE, PATH)
    response.headers["Cache-Control"] = "no-store"  # nor kept for the Back button
    return response


#: the addresses of the account page's forms, below PATH (account_tokens.py has the tokens'),
#: and PATH + "/" itself (``/exports/`` is redirected too)
FORMS = re.compile(r"(|password|2fa/(start|confirm|disable)|tokens(/[^/]+/revoke)?)/?")


@router.get(f"{PATH}/{{form:path}}")
def form_address(form: str) -> RedirectResponse:
    """A form's address opened as a page (left in the address bar by a post, then reopened or
    bookmarked): the account page, where the form is. Any other address below it is not
    found, as anywhere else."""
    if not FORMS.fullmatch(form):
        raise HTTPException(404, "Not Found")
    return RedirectResponse(PATH, status_code=303)


@router.post(f"{PATH}/password")
async def change_password(
    request: Request,
    viewer: Annotated[Viewer, Depends(password_viewer)],
    state: Annotated[AppState, Depends(app_state)],
) -> Response:
    form = await posted_form(request)
    old, new = form.get("old_password", ""), form.get("new_password", "")
    if new != form.get("confirm_password", ""):
        problem = "The new password and its confirmation differ."
        return await run_in_threadpool(
            answer_page, request, state, viewer, 400, error=problem, section="password"
        )
    guess = PasswordGuess(request, state, viewer)
    if guess.wait:
        return await guess.refused("password")

    def change() -> int | str | None:
        try:
            with state.runtime.sessions.begin() as session:
                return password_changes.change_password(session, viewer.name, old, new)
        except AccountError as error:
            return str(error)

    outcome = await state.password_check(change)  # argon2, twice: in the bounded pool
    if outcome is None:
        guess.wrong_password()
    else:  # the current password was right (a refused new one is no guess)
        guess.right()
    if outcome is None or isinstance(outcome, str):
        problem = WRONG_PASSWORD if outcome is None else sentence(outcome)
        return await run_in_threadpool(
            answer_page, request, state, viewer, 400, error=problem, section="password"
        )
    # every older token is over, this session's too: it goes on with a new one
    token = jwt_tokens.issue(
        state.jwt_keys.signing_key(),
        str(viewer.user_id),
        state.runtime.settings.jwt_ttl,
        audience=SESSION_AUDIENCE,
        session_generation=outcome,
    )
    response = back_to_account("password")
    set_session(request, response, token)
    return response


@router.post(f"{PATH}/2fa/start")
async def start_enrolment(
    request: Request,
    viewer: Annotated[Viewer, Depends(password_viewer)],
    state: Annotated[AppState, Depends(app_state)],
) -> Response:
    await posted_form(request)
    if await run_in_threadpool(_totp_is_on, state, viewer.name):
        return await _already_on(request, state, viewer)
    response = RedirectResponse(f"{PATH}#two-factor", status_code=303)
    cookie = _enrolment_cookie(state, viewer.user_id, totp.new_totp_secret())
    set_private_cookie(request, response, ENROLMENT_COOKIE, cookie, ENROLMENT_SECONDS, PATH)
    return response


@router.post(f"{PATH}/2fa/confirm")
async def confirm_enrolment(
    request: Request,
    viewer: Annotated[Viewer, Depends(password_viewer)],
    state: Annotated[AppState, Depends(app_state)],
) -> Response:
    form = await posted_form(request)
    if await run_in_threadpool(_totp_is_on, state, viewer.name):  # sent again, or a 2nd tab
        return await _already_on(request, state, viewer)
    secret = _pending_secret(request, state, viewer.user_id)
    if secret is None:
        problem = "The enrolment took too long: start again and scan the new code."
        return await run_in_threadpool(
            answer_page, request, state, viewer, 400, error=problem, section="two-factor"
        )

    guess = PasswordGuess(request, state, viewer)
    if guess.wait:
        return await guess.refused("two-factor")

    def confirm() -> bool | str:
        try:
            with state.runtime.sessions.begin() as session:
                if not password_is_right(session, viewer.name, form.get("password", "")):
                    return WRONG_PASSWORD
                return totp.confirm_totp(session, viewer.name, secret, form.get("code", ""))
        except AccountError as error:
            return sentence(str(error))

    # the password, as the other changes of the account ask it: a session cookie alone (a
    # copy of it) must not turn on a second factor its owner does not have
    outcome = await state.password_check(confirm)  # argon2
    if outcome == WRONG_PASSWORD:
        guess.wrong_password()
    else:  # a code that does not match is no guess: the key is new, and the user's
        guess.right()
    if outcome is not True:
        problem = (
            outcome
            if isinstance(outcome, str)
            else "That code does not match: try the one your app shows now."
        )
        return await run_in_threadpool(
            answer_page, request, state, viewer, 400, error=problem, section="two-factor"
        )
    response = back_to_account("2fa-on")
    delete_private_cookie(request, response, ENROLMENT_COOKIE, PATH)
    return response


def _totp_is_on(state: AppState, name: str) -> bool:
    with state.runtime.sessions() as session:
        return service.get_user(session, name).totp_secret is not None


async def _already_on(request: Request, state: AppState, viewer: Viewer) -> Response:
    """The answer to setting up two-factor authentication while it is on: nothing to set up,
    and no enrolment left behind (its key would show as a QR code once it is turned off)."""
    response = await run_in_threadpool(
        answer_page, request, state, viewer, 400, error=ALREADY_ON, section="two-factor"
    )
    if ENROLMENT_COOKIE in request.cookies:
        delete_private_cookie(request, response, ENROLMENT_COOKIE, PATH)
    return response


@router.post(f"{PATH}/2fa/disable")
async def disable_two_factor(
    request: Request,
    viewer: Annotated[Viewer, Depends(password_viewer)],
    state: Annotated[AppState, Depends(app_state)],
) -> Response:
    form = await posted_form(request)
    guess = PasswordGuess(request, state, viewer)
    if guess.wait:
        return await guess.refused("two-factor")

    def disable() -> str | None:
        with state.runtime.sessions.begin() as session:
            user = service.get_user(session, viewer.name)
            if user.totp_secret is None:
                return "Two-factor authentication is not on."
            if not verify_password(user.password_hash, form.get("password", "")):
                return "The password is wrong."
            if not totp.accept_code(session, user, form.get("code", "")):
                return "That code is wrong or was already used."
            totp.disable_totp(session, viewer.name)
        return None

    problem = await state.password_check(disable)  # argon2
    if problem == "The password is wrong.":
        guess.wrong_password()
    elif problem is None or problem == "Two-factor authentication is not on.":
        guess.right()
    if problem is not None:
        return await run_in_threadpool(
            answer_page, request, state, viewer, 400, error=problem, section="two-factor"
        )
    return back_to_account("2fa-off")
