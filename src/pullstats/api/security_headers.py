"""Browser-facing protections on every answer: what a page may load, and who may frame it.

Every response gets ``X-Content-Type-Options: nosniff`` (a JSON body or an export file is never
run as a script or a page) and ``Referrer-Policy: no-referrer`` (a signed download link never
leaks in a Referer). An HTML response also gets ``X-Frame-Options: DENY`` and a
``Content-Security-Policy``: scripts, styles, fonts and images only from this origin, no
framing (``frame-ancestors 'none'``), no plugins, no ``<base>``. Inline ``<script>`` blocks
run only when their SHA-256 is listed: :func:`inline_script_hashes` takes them from a page the
app serves as it is (FastAPI's API-reference pages, when they are turned on), never from a
response, so text a request smuggled into a page cannot run. The dashboard has no inline
script at all (its scripts are files under ``/static/``), so by default the policy is
``script-src 'self'``. Dashboard pages set their own ``Referrer-Policy: same-origin``, which
this middleware leaves alone: under ``no-referrer`` a browser sends ``Origin: null`` with a
form POST, and the dashboard's CSRF check reads the Origin (``api/dashboard/forms.py``).
Inline *styles* are allowed: Swagger UI and ReDoc set them at run time, and a style cannot run
code.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_INLINE_SCRIPT = re.compile(
    rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL
)

#: headers every response carries
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
#: the same, for an answer made outside this middleware (the last-resort ``500``, which
#: Starlette's outermost ``ServerErrorMiddleware`` sends)
ALWAYS_HEADERS = {name.decode(): value.decode() for name, value in _ALWAYS}


def inline_script_hashes(html: str | bytes) -> set[str]:
    """The CSP sources (``'sha256-…'``) that allow each inline script of ``html`` to run."""
    body = html.encode() if isinstance(html, str) else html
    return {
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(body)
    }


def content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    scripts = " ".join(["'self'", *sorted(script_hashes)])
    return (
        "default-src 'self'; "
        f"script-src {scripts}; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "font-src 'self' data:; "
        "connect-src 'self'; "
        "object-src 'none'; "
        "base-uri 'none'; "
        "form-action 'self'; "
        "frame-ancestors 'none'"
    )


class SecurityHeaders:
    """Adds the headers above to every HTTP response, without overriding one a route set."""

    def __init__(self, app: ASGIApp, script_hashes: Iterable[str] = ()) -> None:
        self.app = app
        self._html = (
            (b"content-security-policy", content_security_policy(script_hashes).encode()),
            (b"x-frame-options", b"DENY"),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                html = any(
                    name.lower() == b"content-type" and value.lower().startswith(b"text/html")
                    for name, value in headers
                )
                extra = (*_ALWAYS, *self._html) if html else _ALWAYS
                headers.extend(header for header in extra if header[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
