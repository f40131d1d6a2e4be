"""Reading a dashboard form POST, with the cross-site request checks every one of them passes.

CSRF protection is SameSite=Strict on the session cookie, plus two checks here: the request's
``Origin`` (or, when a browser sends none, its ``Referer``) must be this site's own origin, and
a signed-in account form must carry the ``csrf_token`` bound to the session (``session.py``).
A foreign origin is ``403`` with a message (docs/accounts.md); a token of another session is
:class:`StaleForm`, a page of an earlier session (another tab signed in again), which the
account page answers by showing itself again. Signing in and out check the origin alone: their
pages may well be older than the session. Forms are URL-encoded, read whole up to
:data:`MAX_FORM_BYTES` (no multipart: the dashboard uploads nothing).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from fastapi import HTTPException, Request

from pullstats.api.dashboard.session import SESSION_COOKIE, csrf_accepted

MAX_FORM_BYTES = 16 * 1024
CROSS_SITE = "cross-site form refused: submit the form from this site's own pages"


class StaleForm(HTTPException):
    """A form of this site whose ``csrf_token`` is not the session's: its page was made for an
    earlier session (or by another site that got past the origin check)."""


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origins(request: Request) -> set[str]:
    """The origins this site is reached at: the request's own, and the public URL's."""
    origins = {f"{request.url.scheme}://{request.url.netloc}".lower()}
    public = request.app.state.pullstats.runtime.settings.public_url
    if public and (origin := _origin_of(public)) is not None:
        origins.add(origin)
    return origins


def check_same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        origin = _origin_of(referer) if referer else None
    if origin is None or origin.lower() not in own_origins(request):
        raise HTTPException(403, detail=CROSS_SITE)


async def posted_form(request: Request, *, session_bound: bool = True) -> dict[str, str]:
    """The form's fields (the first value of each), after the checks above (the session's
    ``csrf_token`` only if ``session_bound``)."""
    check_same_origin(request)
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise HTTPException(415, detail="send the form as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, detail=f"form larger than {MAX_FORM_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, detail="the form is not UTF-8") from None
    fields: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        fields.setdefault(name, value)
    if (
        session_bound
        and request.cookies.get(SESSION_COOKIE)
        and not csrf_accepted(request, fields.get("csrf_token", ""))
    ):
        raise StaleForm(403, detail=CROSS_SITE + " (its csrf_token is missing or stale)")
    return fields
