"""The dashboard's session: an HttpOnly cookie holding a login JWT of its own audience.

The cookie is set by the sign-in page (``signin.py``) and resolved on every page by
:func:`page_viewer` through the API's own token check (``api/auth.py``'s
``viewer_of_token``), so a revoked token, a disabled user or a removed membership counts on
the next page exactly as on the next API call. Its audience (``pullstats:dashboard``) keeps it
from being used as a bearer token, and an API token from being used as a cookie.

No session, or one that has expired or been ended, raises :class:`SignInRequired`, which the
app answers with ``303 See Other`` to ``/signin?next=<the page>`` (:func:`sign_in_again`).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from pullstats.accounts import jwt_tokens
from pullstats.api.auth import viewer_of_token
from pullstats.api.state import AppState, app_state, request_versions
from pullstats.api.viewer import Viewer

SESSION_COOKIE = "pullstats_session"
#: the half-done sign-in of a 2FA account: the login_2fa_token, readable by /signin only
TWO_FACTOR_COOKIE = "pullstats_2fa"
SESSION_AUDIENCE = "pullstats:dashboard"
SIGNIN_PATH = "/signin"


class SignInRequired(Exception):
    """No usable session: sign in, then come back to ``next_path``."""

    def __init__(self, next_path: str, expired: bool = False) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.expired = expired


def here(request: Request) -> str:
    """Where to come back to after signing in: the page's path and query; for a form POST
    (which cannot be replayed by a redirect) the page the form was on, when the ``Referer``
    names a page of this site, else ``/``."""
    if request.method in ("GET", "HEAD"):
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc.lower() != request.url.netloc.lower() or not referer.path:
        return "/"
    return referer.path + (f"?{referer.query}" if referer.query else "")


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` when it is a path of this site, else ``default``.

    Only a path that starts with a single ``/`` is taken: ``//host``, ``/\\host`` (browsers read
    a backslash as a slash), a scheme or a host, and any control character are refused, so a
    crafted sign-in link cannot send the user to another site (an open redirect).
    """
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def signin_url(next_path: str, **extra: str) -> str:
    return f"{SIGNIN_PATH}?{urlencode({'next': safe_next(next_path), **extra})}"


async def page_viewer(request: Request) -> Viewer:
    """A page's dependency: the signed-in viewer, or :class:`SignInRequired`."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired(here(request))
    state = await app_state(request)
    versions = await request_versions(request)
    try:
        viewer = await viewer_of_token(state, versions, token, audience=SESSION_AUDIENCE)
    except HTTPException:
        raise SignInRequired(here(request), expired=True) from None
    request.state.viewer = viewer
    return viewer


def signed_in_with_token(request: Request) -> bool:
    """Whether the session came from a personal access token rather than a password.

    Such a session may read, but not manage the account: a leaked token must not be able to
    make more tokens (which would outlive its revocation), turn on a second factor the owner
    does not have, or change the password. Read from the session's own claims; a cookie that
    is no valid session's counts as a token's, so that nothing unverified manages an account.
    """
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return False
    try:
        claims = jwt_tokens.verify(
            request.app.state.pullstats.jwt_keys, token, audience=SESSION_AUDIENCE
        )
    except jwt_tokens.InvalidToken:
        return True
    return claims.pat_id is not None


async def password_viewer(request: Request) -> Viewer:
    """:func:`page_viewer` for the account's changes: a password session only (403 else)."""
    viewer = await page_viewer(request)
    if signed_in_with_token(request):
        raise HTTPException(
            403,
            detail="signed in with a personal access token: sign in with your password "
            "to change account settings",
        )
    return viewer


async def sign_in_again(request: Request, error: Exception) -> Response:
    """The app's handler of :class:`SignInRequired`: to the sign-in page, and back after."""
    assert isinstance(error, SignInRequired)
    extra = {"expired": "1"} if error.expired else {}
    response = RedirectResponse(signin_url(error.next_path, **extra), status_code=303)
    if error.expired:
        end_session(request, response)
    return response


def over_tls(request: Request) -> bool:
    """Whether cookies must be ``Secure``: the request came over TLS, or the public URL is
    https (behind a TLS proxy the request itself arrives as plain http)."""
    public = request.app.state.pullstats.runtime.settings.public_url or ""
    return request.url.scheme == "https" or public.lower().startswith("https:")


def set_private_cookie(
    request: Request, response: Response, name: str, value: str, seconds: int, path: str
) -> None:
    """A cookie for this site's pages under ``path`` alone: never read by a script, never sent
    by another site's request, over TLS only where the site is reached by TLS."""
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path=path,
        secure=over_tls(request),
        httponly=True,
        samesite="strict",
    )


def delete_private_cookie(request: Request, response: Response, name: str, path: str) -> None:
    """Delete a cookie of :func:`set_private_cookie`, with the flags it was set with."""
    response.delete_cookie(
        name, path=path, secure=over_tls(request), httponly=True, samesite="strict"
    )


#: How long the browser keeps a session's cookie past its token's expiry: a page asked for
#: then meets the expired token and says the session ended (the cookie gone, it could not).
COOKIE_OUTLIVES_TOKEN = timedelta(days=1)


def set_session(request: Request, response: Response, token: str) -> None:
    ttl = request.app.state.pullstats.runtime.settings.jwt_ttl
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int((ttl + COOKIE_OUTLIVES_TOKEN).total_seconds()),
        path="/",
        secure=over_tls(request),
        httponly=True,
        samesite="strict",
    )


def end_session(request: Request, response: Response) -> None:
    delete_private_cookie(request, response, SESSION_COOKIE, "/")


def csrf_token(request: Request) -> str:
    """The value a signed-in page's forms carry, bound to its session cookie; "" without one.

    An HMAC of the cookie under the installation's JWT key: a page of another site can neither
    read the cookie nor compute this. ``forms.py`` checks it beside the Origin header.
    """
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        return ""
    state: AppState = request.app.state.pullstats
    return state.jwt_keys.signs(_csrf_message(session))


def csrf_accepted(request: Request, given: str) -> bool:
    """Whether ``given`` is the session's :func:`csrf_token` under a key that still verifies:
    a form shown before ``pullstats keys rotate`` is still sent."""
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        return False
    state: AppState = request.app.state.pullstats
    return state.jwt_keys.signed(_csrf_message(session), given)


def _csrf_message(session: str) -> bytes:
    return b"csrf:" + session.encode()
