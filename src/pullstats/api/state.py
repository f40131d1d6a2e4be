"""What every request handler shares: the runtime, the spool writer, key rings, metrics and
caches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import Request
from sqlalchemy import PoolProxiedConnection
from starlette.concurrency import run_in_threadpool

from pullstats.api.cache import Bounded, CachedAnswer, Coalesced, LruCache, answer_cache
from pullstats.api.envelope_parsing import EnvelopeParser, remove_stale_spills
from pullstats.api.export_catalog import ExportCatalog
from pullstats.api.metrics import Metrics
from pullstats.api.models import Health
from pullstats.api.pg_versions import PostgresVersions
from pullstats.api.store_checks import StoreChecks
from pullstats.api.viewer import ResolvedViewer
from pullstats.db.state import CatalogVersions, catalog_versions
from pullstats.lake.spool import SpoolWriter
from pullstats.runtime import Runtime
from pullstats.signing_keys import KeyRing

T = TypeVar("T")

#: dashboard pages rendered at once per process: enough to overlap a render's catalog reads
#: with another's Python, few enough not to fight over the GIL
PAGE_RENDERS = 2


@dataclass
class AppState:
    runtime: Runtime
    spool: SpoolWriter
    #: login JWT keys and download-link keys; each ring sees a `pullstats keys rotate` at once
    jwt_keys: KeyRing
    download_keys: KeyRing
    metrics: Metrics
    #: ingest token text → the accounts epoch it was verified at (api/ingest.py)
    ingest_tokens: dict[str, int] = field(default_factory=dict)
    #: bodies of pull-series answers by (viewer scope, query, data generation), at most
    #: PULLSTATS_ANSWER_CACHE_BYTES of them (made in __post_init__)
    responses: LruCache[CachedAnswer] = field(init=False)
    #: bearer token → its resolved viewer and the accounts epoch it was resolved at (api/auth.py)
    viewers: LruCache[ResolvedViewer] = field(default_factory=lambda: LruCache(max_entries=4096))
    #: the health probe and the metrics scrape in progress, shared by those arriving meanwhile
    health_checks: Coalesced[Health] = field(default_factory=Coalesced)
    scrapes: Coalesced[bytes] = field(default_factory=Coalesced)
    #: the health probe's last look at each store on object storage, reused for a few seconds
    store_checks: StoreChecks = field(default_factory=StoreChecks)

    def __post_init__(self) -> None:
        settings = self.runtime.settings
        self.responses = answer_cache(settings.answer_cache_bytes)
        # password checks in threads of their own limit (see password_check)
        self._password_checks = Bounded(settings.password_checks)
        # dashboard pages, rendered in a few threads at a time (see render_page)
        self._page_renders = Bounded(PAGE_RENDERS)
        #: the export catalog's listings and files, cached per exports epoch (api/export_catalog.py)
        self.export_catalog = ExportCatalog(self.runtime.sessions)
        #: parses notification envelopes, large ones in a worker process (api/ingest.py)
        self.envelopes = EnvelopeParser(
            settings.ingest_max_events, settings.max_clock_skew, settings.paths.tmp
        )
        remove_stale_spills(settings.paths.tmp)
        # SQLite is a local file read in WAL mode, never behind a writer's lock: a point read
        # costs microseconds, less than a hop to the thread pool, so it runs on the event loop,
        # on a driver connection of its own used only by the event loop's thread.
        # PostgreSQL is a network round trip: it is awaited on the event loop, bounded in time,
        # with the thread pool as the fallback (api/pg_versions.py). Other databases use the
        # thread pool.
        self._loop_connection: PoolProxiedConnection | None = None
        self._postgres: PostgresVersions | None = None
        dialect = self.runtime.engine.dialect.name
        if dialect == "sqlite":
            self._loop_connection = self.runtime.engine.raw_connection()
        elif dialect == "postgresql":
            self._postgres = PostgresVersions(self.runtime.settings.database_url_value)

    async def password_check(self, check: Callable[[], T]) -> T:
        """Run ``check``, which verifies or hashes a password (argon2id: tens of milliseconds
        of CPU and 64 MiB), in a thread, at most ``PULLSTATS_PASSWORD_CHECKS`` at a time.

        The thread pool that runs the other blocking work has 40 threads, and a flood of
        logins in it would take every core from the event loop; here the extra logins wait
        their turn (``pullstats_password_checks_waiting``) while every other route goes on.
        """
        waiting, running = self.metrics.password_checks_waiting, self.metrics.password_checks
        started = False

        def counted() -> T:
            nonlocal started
            started = True  # a thread of the limit is ours: no longer waiting
            waiting.dec()
            with running.track_inprogress():
                return check()

        waiting.inc()
        try:
            return await self._password_checks(counted)
        finally:
            if not started:  # cancelled (the client left) before its turn came
                waiting.dec()

    async def render_page(self, page: Callable[[], T]) -> T:
        """Build a dashboard page (catalog reads, then Jinja and SVG: CPU-bound Python) in a
        thread, at most :data:`PAGE_RENDERS` at a time. Forty renders at once in the shared
        thread pool spent half their time contending for the GIL and starved the other
        routes' threads; queued here, the same core renders more pages a second."""
        return await self._page_renders(page)

    def read_versions(self) -> CatalogVersions:
        connection = self.runtime.engine.raw_connection()
        try:
            return catalog_versions(connection)
        finally:
            connection.close()  # back to the pool, its transaction rolled back

    async def versions(self) -> CatalogVersions:
        """The data generation and accounts epoch as of now (one read per request)."""
        if self._loop_connection is not None:
            return catalog_versions(self._loop_connection)
        if self._postgres is not None and self._postgres.available:
            try:
                return await self._postgres.read()
            except Exception:  # logged there; the pool's connection is the fallback
                pass
        return await run_in_threadpool(self.read_versions)

    async def aclose(self) -> None:
        if self._postgres is not None:
            await self._postgres.close()
        self.close()

    def close(self) -> None:
        self.envelopes.close()
        if self._loop_connection is not None:
            self._loop_connection.close()
            self._loop_connection = None


async def app_state(request: Request) -> AppState:
    # async: a plain function dependency would cost every request a hop to the thread pool
    state: AppState = request.app.state.pullstats
    return state


async def request_versions(request: Request) -> CatalogVersions:
    """Read once per request: FastAPI caches a dependency's value for the whole request."""
    return await (await app_state(request)).versions()
