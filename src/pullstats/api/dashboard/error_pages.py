"""Error answers a browser can read: a page in the dashboard's layout, else the API's JSON.

Every ``HTTPException`` of the app (a route's own, and Starlette's 404 of an address no route
has and 405 of a method a route does not take) comes through :func:`page_for_browsers`. It
answers with ``error.html`` — a heading, a sentence, the exception's own sentence when the
dashboard wrote one (a refused form), a link to the overview, and one to sign in for a
visitor without a session — when both hold:

- the address is not one of the API's (:data:`API_PATHS`): Docker Hub's clients, registries,
  monitors and scripts read the JSON of those, whatever ``Accept`` they send;
- the client prefers ``text/html`` to JSON (:func:`prefers_html`): a browser opening an
  address does, a script sending ``*/*`` (curl, httpx) or nothing does not, and keeps the
  ``{"detail": …}`` it has always had.

Otherwise FastAPI's own JSON answer, unchanged. Either way the status and the exception's
headers (``Allow`` on 405, ``WWW-Authenticate``) are kept; an answer outside the API that
depends on ``Accept`` says so (``Vary: Accept``). The page never echoes the address or the
request, and holds no script or style of its own: the security headers' policy
(``api/security_headers.py``) applies to it as to every page. ``HEAD`` is answered by
``api/head_requests.py`` as a ``GET`` without its body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from http import HTTPStatus

from fastapi import Request, Response
from starlette.exceptions import HTTPException

from pullstats.api.dashboard.session import SignInRequired, page_viewer
from pullstats.api.dashboard.templating import render

__all__ = ["API_PATHS", "is_api_path", "page_for_browsers", "prefers_html"]

#: the API's addresses, each with all below it (docs/api.md): Docker Hub's (``/v2/users/…``,
#: ``/api/publisher/analytics/v1/…``), the registries' ingest, the signed downloads, the
#: monitors' health and metrics, and the OpenAPI document
API_PATHS = ("/v2", "/api", "/ingest", "/downloads", "/healthz", "/metrics", "/openapi.json")

#: (heading, sentence) by status; any other status: its reason phrase and :data:`_OTHER`
_SAID = {
    400: ("Cannot read this request", "The page could not read what was sent."),
    403: ("Not allowed", "You may not do that here."),
    404: (
        "Page not found",
        "There is no page at this address. The link may be out of date, or the address mistyped.",
    ),
    405: (
        "Not allowed here",
        "This address cannot be used that way. Open it as a page, or use the form on the "
        "page it belongs to.",
    ),
    413: ("Too large", "What was sent is larger than this page takes."),
    415: ("Cannot read this request", "What was sent is not a form this page takes."),
    429: ("Too many requests", "There were too many requests. Wait a little and try again."),
}
_OTHER = "This request could not be answered."

JsonAnswer = Callable[[Request, HTTPException], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response]]


def is_api_path(path: str) -> bool:
    """Whether ``path`` is one of :data:`API_PATHS` or below one (``/v2x`` is not)."""
    return any(path == root or path.startswith(root + "/") for root in API_PATHS)


def _quality(accept: str, media_type: str) -> tuple[float, int]:
    """The ``q`` the most specific range of ``accept`` gives ``media_type``, and how specific
    that range is (2 exact, 1 ``type/*``, 0 ``*/*``, -1 none)."""
    kind = media_type.split("/", 1)[0]
    best = (0.0, -1)
    for part in accept.split(","):
        range_, *params = (piece.strip() for piece in part.split(";"))
        range_ = range_.lower()
        specific = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(range_, -1)
        if specific <= best[1]:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        best = (q, specific)
    return best


def prefers_html(accept: str) -> bool:
    """Whether a request with this ``Accept`` wants HTML more than JSON: ``text/html`` named
    (or ``text/*``) with a higher ``q`` than JSON gets. A browser opening an address sends
    ``text/html,…,*/*;q=0.8``; a script ``*/*`` or nothing, and a tie goes to JSON."""
    html, specific = _quality(accept, "text/html")
    json, _ = _quality(accept, "application/json")
    return specific >= 1 and html > json


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a status without a reason phrase
        return ""


def _sentence(detail: object, status: int) -> str | None:
    """The exception's own sentence, when it is one the dashboard wrote (not the bare reason
    phrase Starlette puts in a 404 or 405), as a sentence."""
    if not isinstance(detail, str) or not detail or detail == _phrase(status):
        return None
    text = detail[:1].upper() + detail[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


async def _error_page(request: Request, error: HTTPException) -> Response:
    if getattr(request.state, "viewer", None) is None:
        with suppress(SignInRequired):  # who asks: the header, and whether to offer sign-in
            await page_viewer(request)
    status = error.status_code
    heading, sentence = _SAID.get(status) or (_phrase(status) or "Error", _OTHER)
    response = render(
        request,
        "error.html",
        status_code=status,
        path="",  # no page of the navigation is this one, whatever the address begins with
        heading=heading,
        sentence=sentence,
        detail=_sentence(error.detail, status),
    )
    response.headers.update(error.headers or {})
    return response


def page_for_browsers(json_answer: JsonAnswer) -> Handler:
    """The app's handler of ``HTTPException``: the page above for a browser outside the API,
    else ``json_answer`` (FastAPI's own)."""

    async def answer(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        if is_api_path(request.url.path):
            return await json_answer(request, error)
        # a status that has no body (204, 304) has no page either
        with_body = error.status_code >= 200 and error.status_code not in (204, 304)
        if with_body and prefers_html(request.headers.get("accept", "")):
            response = await _error_page(request, error)
        else:
            response = await json_answer(request, error)
        vary = response.headers.get("vary")
        response.headers["Vary"] = f"{vary}, Accept" if vary else "Accept"
        return response

    return answer
