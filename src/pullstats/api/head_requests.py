"""``HEAD`` on every ``GET`` route (RFC 9110 9.3.2): the ``GET`` answer's status and headers,
without its body.

FastAPI's routes answer only the methods they declare, so a load balancer's ``HEAD
/healthz``, or a link checker's ``HEAD`` of a dashboard page, got 405. Declaring ``HEAD`` on
every route would list a second operation of each in the OpenAPI document; instead this
middleware hands the application a ``GET`` and leaves out the body it sends back. The server
still sees the ``HEAD`` (uvicorn then expects no body, whatever ``Content-Length`` says), and so
do the metrics, under the route that answered.

A route that answers ``HEAD`` itself (the downloads: their size and name without reading the
file) is passed the ``HEAD`` as it is.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp, own_head: tuple[str, ...] = ()) -> None:
        self.app = app
        self.own_head = own_head  # path prefixes whose routes answer HEAD themselves

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "HEAD"
            or scope["path"].startswith(self.own_head)
        ):
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        as_get = {**scope, "method": "GET"}
        try:
            await self.app(as_get, receive, without_body)
        finally:
            if "route" in as_get:  # the metrics count the answer under its route
                scope["route"] = as_get["route"]
