"""A bound on every request body but the registry's deliveries: ``413`` past
:data:`MAX_BODY_BYTES`.

FastAPI reads a JSON body whole, and parses it, before a route or its model's ``max_length``
sees it: ``POST /v2/users/login``, which anyone may call, took a 300 MB body into memory (three
at once held 2.9 GB, and ``/healthz`` waited seconds behind the parse). The largest body of a
route here is a login's, under 6 KiB. The ingest route has its own limit
(``PULLSTATS_INGEST_MAX_BODY_BYTES``), so it is not bounded here; the dashboard's forms have a
smaller one (``dashboard/forms.py``), which refuses them first.

At an address of the API (``dashboard/error_pages.API_PATHS``), a ``Content-Length`` over the
bound is answered at once, in JSON, without reading the body. Elsewhere, and for a body sent
without one (chunked), the body is counted as it arrives and refused when it passes the bound:
through the app's error handling, so a browser posting a dashboard form is answered with the
error page (its form's own, smaller bound comes first), as for any other refused form.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pullstats.api.dashboard.error_pages import is_api_path

#: the largest request body a route other than the exempted ones reads
MAX_BODY_BYTES = 1 << 20


class BodyTooLarge(HTTPException):
    """Raised from the request's ``receive`` when the body passes the bound: FastAPI passes an
    ``HTTPException`` raised while it reads a body on as it is, and answers it as JSON."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"request body larger than {limit} bytes")


class BodyLimit:
    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY_BYTES, exempt: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.limit = limit
        # paths whose routes bound their bodies themselves, with or without trailing slashes
        # (app.OtherSlash answers those at the route)
        self.exempt = tuple(path.rstrip("/") for path in exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit and is_api_path(scope["path"]):
            refused = BodyTooLarge(self.limit)
            answer = JSONResponse({"detail": refused.detail}, status_code=refused.status_code)
            await answer(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)
