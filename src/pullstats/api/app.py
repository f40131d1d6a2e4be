"""The FastAPI application: one server, one port, every HTTP interface of docs/api.md."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import JSONResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import Match, Router
from starlette.types import Receive, Scope, Send

from pullstats import __version__
from pullstats.api import (
    analytics,
    auth,
    dashboard,
    downloads,
    exports_api,
    ingest,
    ops,
    pg_versions,
    reference_page,
    store_checks,
    trends,
)
from pullstats.api.cached_answers import CachedAnswers
from pullstats.api.contract_names import in_contract_names
from pullstats.api.head_requests import HeadAsGet
from pullstats.api.heartbeat import Heartbeat
from pullstats.api.metrics import (
    Metrics,
    MetricsMiddleware,
    NodesCollector,
    SetAsideCollector,
    access_log,
    metrics_log,
)
from pullstats.api.request_bodies import BodyLimit
from pullstats.api.security_headers import ALWAYS_HEADERS, SecurityHeaders, inline_script_hashes
from pullstats.api.state import AppState
from pullstats.config import Settings
from pullstats.db.keys import check_keys
from pullstats.key_rings import download_key_ring, jwt_key_ring
from pullstats.lake.spool import SpoolWriter
from pullstats.logs import log_to_stderr
from pullstats.runtime import Runtime
from pullstats.scheduler import Scheduler

DESCRIPTION = """\
pullstats serves Docker Hub's DVP Data API for any registry: log in at `POST /v2/users/login`,
then call the analytics routes under `/api/publisher/analytics/v1` with
`Authorization: Bearer <token>`. Registries deliver pull events to
`POST /ingest/v1/registry/events`.
"""


log = logging.getLogger(__name__)


async def invalid_request(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422 without each error's ``input``: that is null for a missing value (we never
    emit null: an absent field is omitted) and would otherwise echo the client's body, password
    and all."""
    assert isinstance(error, RequestValidationError)
    errors = [{k: v for k, v in e.items() if k != "input"} for e in error.errors()]
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


async def internal_error(request: Request, error: Exception) -> JSONResponse:
    """The last resort for an error no route or handler answered: ``500`` with the API's
    ``{"detail": …}``, naming nothing of the error (Starlette's own answer was a plain-text
    page). Starlette raises the error again once this is sent, so the server still logs it with
    its traceback. Sent from outside every middleware, it carries the headers
    :class:`SecurityHeaders` gives every answer itself."""
    return JSONResponse(
        {"detail": "internal server error"}, status_code=500, headers=ALWAYS_HEADERS
    )


class OtherSlash:
    """The router's answer to a path that no route has: the route of the same path with or
    without its trailing slash (``/v2/users/login/``, ``/api/publisher/analytics/v1``),
    answered in place, as if the client had asked for that path; else the router's own 404.

    Starlette's ``redirect_slashes`` answered these with a ``307`` to an absolute URL of the
    request's own scheme: behind a TLS-terminating proxy (the server reads no
    ``X-Forwarded-Proto``) that was ``http://``, and a client following it sent a login's
    password there in the clear. Answered in place, nothing is re-sent anywhere, a ``POST``
    included. Which paths are tried is Starlette's rule: every trailing slash off, or one on.
    """

    def __init__(self, router: Router) -> None:
        self.router = router
        self.not_found = router.default

    def _other(self, scope: Scope) -> Scope | None:
        """The request with the other slash form of its path, when a route has that path."""
        path: str = scope["path"]  # the server sets no root_path: the path is the route's
        if scope["type"] != "http" or path == "/":
            return None
        other = dict(scope)
        raw: bytes | None = scope.get("raw_path")
        if path.endswith("/"):
            other["path"] = path.rstrip("/")
            if raw is not None and raw.endswith(b"/"):
                other["raw_path"] = raw.rstrip(b"/")
        else:
            other["path"] = path + "/"
            if raw is not None:
                other["raw_path"] = raw + b"/"
        if not other["path"] or not any(
            route.matches(other)[0] is not Match.NONE for route in self.router.routes
        ):
            return None
        return other

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        other = self._other(scope)
        if other is None:
            await self.not_found(scope, receive, send)
            return
        try:
            await self.router.app(other, receive, send)
        finally:
            if "route" in other:  # the metrics count the answer under its route
                scope["route"] = other["route"]


def served_pages(app: FastAPI) -> list[bytes]:
    """The HTML pages the app serves as they are, whose inline scripts the CSP lets run:
    FastAPI's own API-reference pages when they are on (``docs_url``, ``redoc_url``), rendered
    as FastAPI renders them. The dashboard has none: its scripts are files under ``/static/``."""
    pages: list[bytes] = []
    if app.openapi_url and app.docs_url:
        swagger = get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        pages.append(bytes(swagger.body))
        if app.swagger_ui_oauth2_redirect_url:
            pages.append(bytes(get_swagger_ui_oauth2_redirect_html().body))
    if app.openapi_url and app.redoc_url:
        redoc = get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} - ReDoc")
        pages.append(bytes(redoc.body))
    return pages


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.open(settings)
        if settings.password_hashing != "standard":
            log_to_stderr(log)
            log.warning(
                "PULLSTATS_PASSWORD_HASHING=%s: new password hashes are cheap to crack; "
                "for tests only, never on a real installation",
                settings.password_hashing,
            )
        set_aside = SetAsideCollector(runtime.settings)
        metrics.registry.register(set_aside)
        nodes = NodesCollector(runtime)
        metrics.registry.register(nodes)
        spool = SpoolWriter(runtime.paths.spool, segment_bytes=settings.spool_segment_bytes)
        jwt_keys, download_keys = jwt_key_ring(settings), download_key_ring(settings)
        jwt_keys.signing_key()  # made at start, not by the first request: a fresh data dir
        download_keys.signing_key()  # has its keys before anyone can ask for them
        check_keys(runtime.sessions, runtime.paths)  # new ones: recorded for every node
        heartbeat = Heartbeat(runtime)
        heartbeat.start()
        app.state.pullstats = state = AppState(
            runtime=runtime,
            spool=spool,
            jwt_keys=jwt_keys,
            download_keys=download_keys,
            metrics=metrics,
        )
        scheduler = Scheduler(settings)
        scheduler.start()
        # Everything loaded by now (modules, routes, schemas: about a million objects) lives as
        # long as the process. Frozen, it is left out of the collector's full passes, which
        # otherwise walk all of it and stall every request in flight for about 100 ms — the
        # whole p99 of a busy server (docs/benchmarks.md).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await scheduler.stop()
            await heartbeat.stop()
            await state.aclose()
            spool.close()
            runtime.close()
            metrics.registry.unregister(set_aside)
            metrics.registry.unregister(nodes)

    app = FastAPI(
        title="pullstats",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's own pages load Swagger UI and ReDoc from a CDN: blank offline
        docs_url=None,
        redoc_url=None,
        # the other slash form of a route's path is answered in place, never redirected to
        redirect_slashes=False,
    )
    app.router.default = OtherSlash(app.router)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, internal_error)
    generated = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = in_contract_names(generated())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way
    # the outermost is added last: metrics count the answers served from the cache too
    app.add_middleware(CachedAnswers, prefix=analytics.PREFIX)
    # with trailing slashes too: OtherSlash answers those as the ingest route (its own limit)
    app.add_middleware(BodyLimit, exempt=(ingest.PATH,))
    app.add_middleware(ingest.DirectIngest)
    app.add_middleware(HeadAsGet, own_head=(downloads.PREFIX,))
    if (hosts := settings.allowed_host_patterns) is not None:
        # outside every route and every answer of a middleware: a page that reaches the server
        # through DNS rebinding names its own host, and is refused before anything is read
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False)
    hashes = set().union(*(inline_script_hashes(page) for page in served_pages(app)))
    app.add_middleware(SecurityHeaders, script_hashes=hashes)
    app.add_middleware(MetricsMiddleware, metrics=metrics, log_requests=settings.access_log)
    if settings.access_log:
        log_to_stderr(access_log)
    log_to_stderr(pg_versions.logger)  # its fallback warnings, in the server's log format
    log_to_stderr(metrics_log)  # a client gone before its request ended; the catalog unread
    log_to_stderr(ingest.log)  # an envelope the data dir could not take: one line each
    log_to_stderr(store_checks.log)  # a store on S3 that fails /healthz's check, and is back
    app.include_router(auth.router)
    app.include_router(analytics.router)
    app.include_router(exports_api.router)
    app.include_router(trends.router)
    app.include_router(exports_api.report_router)
    app.include_router(downloads.router)
    app.include_router(ingest.router)
    app.include_router(ops.router)
    dashboard.install(app)
    app.include_router(reference_page.router)
    return app
