"""The catalog's versions read from PostgreSQL on the event loop, one read per group of waiters.

Every request reads the data generation and the accounts epoch (that is what makes a revoked
token fail on its very next request). Through SQLAlchemy's pool in the thread pool that read
cost about 0.47 ms on a local server (a thread hop, the pool's ping, the query, the rollback on
return); on one autocommit ``psycopg`` connection of the event loop's own it costs about
0.11 ms (docs/benchmarks.md).

A read must start after the request that waits for it arrived, or it could miss a change
committed just before. Requests that arrive while a read is running therefore wait for the
next one, and all of them share it: under load one round trip serves a whole group.

If the connection cannot be opened or a read fails, :meth:`PostgresVersions.read` raises and
the caller falls back to the thread pool; the next attempt here waits :data:`RETRY_AFTER`
seconds, so a URL this path cannot use (a SQLAlchemy-only option, say) costs nothing per
request.
"""

from __future__ import annotations

import asyncio
import logging
import time

import psycopg
from sqlalchemy.engine import make_url

from pullstats.db.state import VERSIONS_SQL, CatalogVersions, versions_of

__all__ = ["RETRY_AFTER", "PostgresVersions", "libpq_uri"]

logger = logging.getLogger(__name__)

#: Seconds a read may take, connecting included, before it counts as failed.
READ_TIMEOUT = 10.0
#: Seconds after a failure during which reads are not tried here.
RETRY_AFTER = 5.0


def libpq_uri(database_url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (``postgresql+psycopg://…``) as a libpq connection URI."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresVersions:
    """Reads :class:`CatalogVersions` for the requests of one event loop."""

    def __init__(self, database_url: str) -> None:
        self._conninfo = libpq_uri(database_url)
        self._connection: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the connection
        self._next: asyncio.Future[CatalogVersions] | None = None  # not started yet
        self._paused_until = 0.0
        self._reads: set[asyncio.Task[None]] = set()  # referenced until done
        self.round_trips = 0  # reads sent to the database, however many requests shared them

    @property
    def available(self) -> bool:
        """False for :data:`RETRY_AFTER` seconds after a failure."""
        return time.monotonic() >= self._paused_until

    async def read(self) -> CatalogVersions:
        """The versions as of a read that starts after this call."""
        if self._next is None and not self._lock.locked():
            # nothing running or waiting (a lone sender, a quiet server): read right here;
            # taking a free asyncio lock never suspends, so nobody can slip in between
            async with self._lock:
                return await self._read_or_pause()
        waiting = self._next
        if waiting is None:
            waiting = self._next = asyncio.get_running_loop().create_future()
            task = asyncio.ensure_future(self._run(waiting))
            self._reads.add(task)
            task.add_done_callback(self._reads.discard)
        # shielded: a request that goes away must not cancel the read others wait for
        return await asyncio.shield(waiting)

    async def _run(self, result: asyncio.Future[CatalogVersions]) -> None:
        async with self._lock:
            if self._next is result:
                self._next = None  # from here on, arrivals wait for the next read
            try:
                versions = await self._read_or_pause()
            except Exception as error:
                result.set_exception(error)
                result.exception()  # retrieved: no "never retrieved" warning if nobody waits
            except BaseException:  # cancelled (the server stops): release the waiters too
                result.cancel()
                raise
            else:
                result.set_result(versions)

    async def _read_or_pause(self) -> CatalogVersions:
        """One read (the caller holds the lock); on any failure the connection is dropped and
        reads pause for :data:`RETRY_AFTER` seconds, so callers use the thread pool."""
        try:
            async with asyncio.timeout(READ_TIMEOUT):  # no extra task, unlike wait_for
                return await self._read()
        except BaseException as error:  # a cancelled read may leave the connection mid-query
            await asyncio.shield(self._drop())
            if isinstance(error, Exception):
                self._paused_until = time.monotonic() + RETRY_AFTER
                # the error's class only: a driver message may quote the connection string
                logger.warning(
                    "reading the catalog versions on the event loop failed (%s); "
                    "using the thread pool for %.0f s",
                    type(error).__name__,
                    RETRY_AFTER,
                )
            raise

    async def _read(self) -> CatalogVersions:
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, application_name="pullstats-api-versions"
            )
        self.round_trips += 1
        cursor = await self._connection.execute(VERSIONS_SQL)
        return versions_of(await cursor.fetchall())

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.close()
            except Exception:  # already broken: nothing more to release
                logger.debug("closing a failed versions connection", exc_info=True)

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
