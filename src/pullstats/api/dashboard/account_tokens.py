"""``/account/tokens``: create a personal access token (shown once, on the account page it
redirects to; the current password is asked) and revoke one of yours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pullstats.accounts import tokens
from pullstats.accounts.errors import AccountError
from pullstats.api.dashboard.account import (
    NEW_TOKEN_COOKIE,
    NEW_TOKEN_SECONDS,
    PATH,
    WRONG_PASSWORD,
    PasswordGuess,
    answer_page,
    back_to_account,
    password_is_right,
    sentence,
)
from pullstats.api.dashboard.forms import posted_form
from pullstats.api.dashboard.session import password_viewer, set_private_cookie
from pullstats.api.dashboard.token_lifetimes import DEFAULT_LIFETIME, LIFETIMES
from pullstats.api.state import AppState, app_state
from pullstats.api.viewer import Viewer

router = APIRouter(include_in_schema=False)


@router.post(f"{PATH}/tokens")
async def create_token(
    request: Request,
    viewer: Annotated[Viewer, Depends(password_viewer)],
    state: Annotated[AppState, Depends(app_state)],
) -> Response:
    form = await posted_form(request)
    scopes = [scope for scope in tokens.SCOPES if form.get(f"scope:{scope}")]
    days = form.get("expires_days", "")

    async def refused(problem: str) -> Response:
        """The page again (400) with the form as it was sent, but its password, to put right."""
        return await run_in_threadpool(
            answer_page,
            request,
            state,
            viewer,
            400,
            error=problem,
            section="tokens",
            token_form=_as_sent(form, scopes),
        )

    if days not in LIFETIMES:
        return await refused("Pick a lifetime from the list.")
    if not scopes:
        return await refused("Pick at least one scope.")
    expires = datetime.now(UTC) + timedelta(days=int(days)) if days else None
    # the password, as the other changes of the account ask it: a token outlives the password
    # change that ends every session, so a session cookie alone (a copy of it) must not make one
    guess = PasswordGuess(request, state, viewer)
    if guess.wait:
        return await guess.refused("tokens", token_form=_as_sent(form, scopes))

    def create() -> str:
        try:
            with state.runtime.sessions.begin() as session:
                if not password_is_right(session, viewer.name, form.get("password", "")):
                    raise _WrongPassword
                made = tokens.create_pat(
                    session, viewer.name, form.get("label", ""), scopes, expires
                )
                return made.text
        except AccountError as error:
            raise _Refused(str(error)) from None

    try:
        secret = await state.password_check(create)  # argon2: in the bounded pool
    except _WrongPassword:
        guess.wrong_password()
        return await refused(WRONG_PASSWORD)
    except _Refused as refusal:
        guess.right()  # the password was right: a label refused is no guess
        return await refused(sentence(str(refusal)))
    guess.right()
    # shown once, on the page this redirects to (so that a reload makes no second token): the
    # secret goes there in a cookie of that page alone, which the page reads and deletes; it is
    # never stored and never in a URL
    response = RedirectResponse(f"{PATH}?done=token#tokens", status_code=303)
    set_private_cookie(request, response, NEW_TOKEN_COOKIE, secret, NEW_TOKEN_SECONDS, PATH)
    return response


@router.post(f"{PATH}/tokens/{{token_id}}/revoke")
async def revoke_token(
    token_id: str,
    request: Request,
    viewer: Annotated[Viewer, Depends(password_viewer)],
    state: Annotated[AppState, Depends(app_state)],
) -> Response:
    await posted_form(request)

    def revoke() -> bool:
        with state.runtime.sessions.begin() as session:
            mine = {pat.id for pat in tokens.list_pats(session, viewer.name)}
            if token_id not in mine:  # another user's token is no different from none
                return False
            tokens.revoke_pat(session, token_id)
            return True

    if not await run_in_threadpool(revoke):
        return await run_in_threadpool(
            answer_page,
            request,
            state,
            viewer,
            404,
            error="No such token of yours.",
            section="tokens",
        )
    return back_to_account("revoked")


def _as_sent(form: dict[str, str], scopes: list[str]) -> dict[str, Any]:
    """The new-token form as it was sent, shown again with its refusal: its label, lifetime
    (one not on the list as the default) and scopes; never its password."""
    days = form.get("expires_days", "")
    return {
        "label": form.get("label", ""),
        "expires_days": days if days in LIFETIMES else DEFAULT_LIFETIME,
        "scopes": scopes,
    }


class _Refused(Exception):
    pass


class _WrongPassword(Exception):
    pass
