"""Pull-series and export-listing answers straight from the cache, in front of the router.

A dashboard or a script asks the same few series again and again between two runs of
``pullstats process``. Once a route has built an answer, it is in the answer cache under
(viewer scope, path, query, data generation, day); a repeat of it needs no routing, no parameter
validation and no dependency solving, only the checks that decide whether the cached answer
is still the right one:

- the bearer token's viewer is in the viewer cache, resolved at the current accounts epoch and
  not past its expiry (so a revocation or a membership change made anywhere is seen at once);
- the answer for that viewer's scope, this path and query, the current data generation (for
  an export listing: the current exports epoch) and today's date is in the answer cache.

Anything else (no token, an unknown token, a miss, a malformed query, any other route) goes to
the application unchanged, which validates, authorises, builds and caches. Because every
permission check of those routes depends only on the viewer's scope, an answer built for
one viewer is correct for any viewer with the same scope; 4xx answers are never cached.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from pullstats.accounts.jwt_tokens import LOGIN_AUDIENCE
from pullstats.api.auth import bearer_token
from pullstats.api.cache import (
    answer_key,
    answer_response,
    export_listing,
    exports_version,
    utc_day,
)
from pullstats.api.state import AppState

#: The series routes all end so; the export listings (cache.export_listing) are the only
#: other answers in the cache.
_SERIES_SUFFIX = "/pulls"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class CachedAnswers:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(self.prefix)
            and (scope["path"].endswith(_SERIES_SUFFIX) or export_listing(scope["path"]))
        ):
            state: AppState | None = getattr(scope["app"].state, "pullstats", None)
            if state is not None and await self._answer(state, scope, receive, send):
                return
        await self.app(scope, receive, send)

    async def _answer(self, state: AppState, scope: Scope, receive: Receive, send: Send) -> bool:
        token = bearer_token(_header(scope, b"authorization"))
        resolved = state.viewers.get(token) if token else None
        if (
            resolved is None
            or resolved.audience != LOGIN_AUDIENCE  # a session cookie sent as a bearer token
            or time.time() >= resolved.expires
        ):
            return False
        versions = await state.versions()
        if resolved.accounts_epoch != versions.accounts_epoch:
            return False
        version: int | str = versions.generation
        if not scope["path"].endswith(_SERIES_SUFFIX):
            version = exports_version(versions.exports_epoch)
        key = answer_key(resolved.viewer.cache_scope, scope, version, utc_day())
        cached = state.responses.get(key)
        if cached is None:
            return False
        scope["route"] = cached.route  # metrics count it under the route that built it
        response = answer_response(key, cached.body, _header(scope, b"if-none-match"))
        await response(scope, receive, send)
        return True
