"""``Allow`` on a 405: every method the address takes (RFC 9110 15.5.6), not one route's.

Starlette answers a method no route of an address takes with the methods of the first route
whose path matched: ``PUT /signin`` said ``Allow: GET`` though the sign-in form is posted
there, since the page and the form are two routes. :func:`every_allowed_method` sets the header
from every route of the app whose path matches, with ``HEAD`` wherever ``GET`` is taken
(``api/head_requests.py`` answers it for every ``GET`` route).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

Handler = Callable[[Request, Exception], Awaitable[Response]]


#: the methods asked about (RFC 9110's, but CONNECT and TRACE, which no route takes)
_METHODS = ("DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """The methods some route of the app takes at ``request``'s address, sorted. Each is
    asked of the routes as a request of that method (routers included in routers hold their
    routes out of sight: a route's ``matches`` is what every kind answers)."""
    routes = request.app.router.routes
    methods = {
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    }
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def every_allowed_method(handler: Handler) -> Handler:
    """``handler`` (the app's handler of ``HTTPException``) given a 405 whose ``Allow`` names
    every method the address takes."""

    async def answer(request: Request, error: Exception) -> Response:
        if isinstance(error, HTTPException) and error.status_code == 405:
            methods = allowed_methods(request)
            if methods:
                headers = {
                    name: value
                    for name, value in (error.headers or {}).items()
                    if name.lower() != "allow"
                }
                error = HTTPException(405, error.detail, {**headers, "Allow": ", ".join(methods)})
        return await handler(request, error)

    return answer
