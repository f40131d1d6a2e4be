"""The job lock: process, compaction, imports, export and lake migrations never run at the
same time.

On the default SQLite catalog (one machine) it is an flock on ``<data dir>/jobs.lock``. On
PostgreSQL, where servers on several machines share the catalog, it is a session-level advisory
lock in the catalog database, held on a connection of its own for the whole job: every process
that shares the catalog waits for the same lock, whichever machine it runs on. Either way a
job waits for it up to ``wait_seconds`` and then gives up with :class:`JobLockBusy`.

A job that loses its database connection loses the advisory lock with it; its own catalog
writes fail on the same server, and each publishing step is one transaction, so nothing is
half-published. :class:`JobLockLost` says so when the job ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

#: how often a waiting job asks again for a held lock
POLL_SECONDS = 0.1
#: the advisory lock's key: one bigint that names "the pullstats job lock" in a catalog database
#: (advisory locks are per database, so catalogs sharing a server never block each other)
ADVISORY_KEY = int.from_bytes(
    hashlib.sha256(b"pullstats job lock").digest()[:8], "big", signed=True
)


class JobLockBusy(RuntimeError):
    """Another pullstats job holds the lock and did not release it in time."""


class JobLockLost(RuntimeError):
    """The database connection that held the job lock broke while the job ran."""


@contextlib.contextmanager
def hold_job_lock(
    engine: Engine, lock_file: Path, *, wait_seconds: float = 600.0
) -> Iterator[None]:
    """Hold the exclusive job lock of the installation whose catalog is ``engine`` (and whose
    data dir's lock file is ``lock_file``) for the block.

    Waits for it up to ``wait_seconds``, then raises :class:`JobLockBusy`.
    """
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, wait_seconds):
            yield
    else:
        with _file_lock(lock_file, wait_seconds):
            yield


@contextlib.contextmanager
def _file_lock(path: Path, wait_seconds: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise JobLockBusy(f"another pullstats job holds {path}") from None
                time.sleep(POLL_SECONDS)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _advisory_lock(engine: Engine, wait_seconds: float) -> Iterator[None]:
    # its own connection, outside any transaction: the lock lives as long as the session does
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        _take_advisory_lock(connection, wait_seconds)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            released = _release_advisory_lock(connection)
            if not released and not failed:
                raise JobLockLost(
                    "the connection to the catalog database (PULLSTATS_DATABASE_URL) that held "
                    "the job lock broke while the job ran: run the job again"
                )
    finally:
        # a session's advisory locks end with it: never hand a locking session back to the pool
        connection.invalidate()
        connection.close()


def _take_advisory_lock(connection: Connection, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    try_lock = text("SELECT pg_try_advisory_lock(:key)")
    while not connection.execute(try_lock, {"key": ADVISORY_KEY}).scalar():
        if time.monotonic() >= deadline:
            raise JobLockBusy(
                "another pullstats job holds the job lock in the catalog database "
                "(a PostgreSQL advisory lock)"
            )
        time.sleep(POLL_SECONDS)


def _release_advisory_lock(connection: Connection) -> bool:
    """Release the lock; False when the session that held it is gone."""
    try:
        unlock = text("SELECT pg_advisory_unlock(:key)")
        return bool(connection.execute(unlock, {"key": ADVISORY_KEY}).scalar())
    except DBAPIError:
        return False
