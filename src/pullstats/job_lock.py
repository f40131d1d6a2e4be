"""The job lock: process, compaction, imports, export and lake migrations never run at the
same time.

On the default SQLite catalog (one machine) it is an flock on ``<data dir>/jobs.lock``. On
PostgreSQL, where servers on several machines share the catalog, it is a session-level advisory
lock in the catalog database, held on a connection of its own for the whole job: every process
that shares the catalog waits for the same lock, whichever machine it runs on. Either way a
job waits for it up to ``wait_seconds`` and then gives up with :class:`JobLockBusy`; one that
has waited :data:`NOTICE_SECONDS` says so on stderr, naming what holds the lock when it can
tell (the process, from ``/proc/locks``; the PostgreSQL session, from ``pg_locks``).

A job that loses its database connection loses the advisory lock with it, and another job may
take the lock at once. Its other connections need not fail with it (a firewall or an
``idle_session_timeout`` drops the lock's idle connection only, ``pg_terminate_backend`` ends
one session), so the job asks before each step that publishes (:func:`check_job_lock`: one
round trip on the lock's connection) and stops with :class:`JobLockLost` before publishing
once the lock is gone; each publishing step is one transaction, so nothing is half-published.
The lock's connection sends TCP keepalives, so a firewall sees it busy while the job works.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

#: how often a waiting job asks again for a held lock
POLL_SECONDS = 0.1
#: how long a job waits in silence before it says on stderr that it waits for the lock
NOTICE_SECONDS = 1.0
#: the advisory lock's key: one bigint that names "the pullstats job lock" in a catalog database
#: (advisory locks are per database, so catalogs sharing a server never block each other)
ADVISORY_KEY = int.from_bytes(
    hashlib.sha256(b"pullstats job lock").digest()[:8], "big", signed=True
)


#: libpq's TCP keepalives on the lock's connection, idle for the whole job: a probe after a
#: minute of silence keeps a firewall's or NAT's idle timeout from dropping it, and a peer
#: that is gone is noticed within two more minutes (one the URL sets itself is kept)
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 60,
    "keepalives_interval": 10,
    "keepalives_count": 12,
}
#: what :class:`JobLockLost` says
LOST = (
    "the connection to the catalog database (PULLSTATS_DATABASE_URL) that held "
    "the job lock broke while the job ran: run the job again"
)
#: the lock's connection of the job this thread runs (None: none held, or a file lock)
_HELD: ContextVar[Connection | None] = ContextVar("pullstats_job_lock", default=None)


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
        waiting = _Waiting(wait_seconds)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waiting.over():
                    raise JobLockBusy(f"another pullstats job holds {path}") from None
                waiting.notice(lambda: f"{path}, held by {_file_holder(path)}")
                time.sleep(POLL_SECONDS)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def check_job_lock() -> None:
    """Raise :class:`JobLockLost` when the advisory lock this job (this thread) holds is gone;
    call it before each step that publishes. One round trip; nothing without such a lock (a
    file lock is the process's own for as long as it runs)."""
    connection = _HELD.get()
    if connection is not None and not _still_held(connection):
        raise JobLockLost(LOST)


@contextlib.contextmanager
def _advisory_lock(engine: Engine, wait_seconds: float) -> Iterator[None]:
    # its own connection, outside any transaction and any pool (a session's advisory locks end
    # with it: never hand a locking session back to a pool), with keepalives: the lock lives as
    # long as the session does
    keepalives = {key: value for key, value in KEEPALIVES.items() if key not in engine.url.query}
    locking = create_engine(engine.url, poolclass=NullPool, connect_args=keepalives)
    try:
        connection = locking.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            _take_advisory_lock(connection, wait_seconds)
            held = _HELD.set(connection)
            failed = False
            try:
                yield
            except BaseException:
                failed = True
                raise
            finally:
                _HELD.reset(held)
                released = _release_advisory_lock(connection)
                if not released and not failed:
                    raise JobLockLost(LOST)
        finally:
            connection.invalidate()
            connection.close()
    finally:
        locking.dispose()


def _take_advisory_lock(connection: Connection, wait_seconds: float) -> None:
    waiting = _Waiting(wait_seconds)
    try_lock = text("SELECT pg_try_advisory_lock(:key)")
    while not connection.execute(try_lock, {"key": ADVISORY_KEY}).scalar():
        if waiting.over():
            raise JobLockBusy(
                "another pullstats job holds the job lock in the catalog database "
                "(a PostgreSQL advisory lock)"
            )
        waiting.notice(lambda: f"in the catalog database, held by {_session_holder(connection)}")
        time.sleep(POLL_SECONDS)


class _Waiting:
    """A job's wait for the lock: its deadline, and the one line it says once it has waited
    :data:`NOTICE_SECONDS` (a cron job or a shell otherwise shows nothing for minutes)."""

    def __init__(self, wait_seconds: float) -> None:
        self.started = time.monotonic()
        self.wait_seconds = wait_seconds
        self.said = False

    def over(self) -> bool:
        return time.monotonic() - self.started >= self.wait_seconds

    def notice(self, where: Callable[[], str]) -> None:
        if self.said or time.monotonic() - self.started < NOTICE_SECONDS:
            return
        self.said = True
        seconds = self.wait_seconds
        up_to = f"{seconds / 60:g} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g} s"
        # sys.stderr as it is now: under a progress bar, rich's proxy that prints above it
        print(f"waiting for the job lock ({where()}; up to {up_to})", file=sys.stderr, flush=True)


def _file_holder(path: Path) -> str:
    """The process that holds the flock on ``path``: from ``/proc/locks`` (Linux; it knows a
    holder that is no pullstats job, ``flock(1)`` say), else the pid a pullstats job wrote in
    the file."""
    pid = _flock_pid(path)
    if pid is None:
        with contextlib.suppress(OSError, ValueError):
            pid = int(path.read_text().split()[0])
    if pid is None:
        return "another process"
    return f"pid {pid}" + (f": {command}" if (command := _command_of(pid)) else "")


def _flock_pid(path: Path) -> int | None:
    try:
        status = path.stat()
        with open("/proc/locks") as locks:
            lines = locks.read().splitlines()
    except OSError:
        return None
    file = (os.major(status.st_dev), os.minor(status.st_dev), status.st_ino)
    for line in lines:  # "1: FLOCK  ADVISORY  WRITE 7557 fe:00:2261225 0 EOF"; "->": a waiter
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        with contextlib.suppress(ValueError):
            major, minor, inode = fields[5].split(":")
            if (int(major, 16), int(minor, 16), int(inode)) == file:
                return int(fields[4])
    return None


def _command_of(pid: int) -> str:
    """``pullstats process``, ``flock /srv/pullstats/jobs.lock sleep 25``: the command line of
    ``pid`` (on this machine), its interpreter left out, at most 120 characters."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().decode(errors="replace").split("\0")
    except OSError:
        return ""
    words = [word for word in words if word]
    if words and Path(words[0]).name.startswith("python"):
        words = words[1:]
        if words[:1] == ["-m"]:
            words = words[1:]
    if words:
        words[0] = Path(words[0]).name
    command = " ".join(words)
    return command if len(command) <= 120 else command[:119] + "…"


def _session_holder(connection: Connection) -> str:
    """The PostgreSQL session that holds the advisory lock: its server pid, and the client's
    address and application when the server tells them."""
    query = text(
        "SELECT a.pid, host(a.client_addr), a.application_name FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND ((l.classid::bigint << 32) | l.objid::bigint) = :key"
    )
    try:
        row = connection.execute(query, {"key": ADVISORY_KEY}).first()
    except DBAPIError:
        return "another session (a PostgreSQL advisory lock)"
    if row is None:  # released since
        return "another session (a PostgreSQL advisory lock)"
    pid, client, application = row
    said = [f"from {client}" if client else "", application or ""]
    extra = ", ".join(part for part in said if part)
    return f"PostgreSQL session {pid}" + (f" ({extra})" if extra else "")


def _still_held(connection: Connection) -> bool:
    """Whether the session of ``connection`` holds the lock still (False: it is gone, and
    maybe another job's now; a session the server ended fails the query)."""
    query = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = :key"
    )
    try:
        return bool(connection.execute(query, {"key": ADVISORY_KEY}).scalar())
    except DBAPIError:
        return False


def _release_advisory_lock(connection: Connection) -> bool:
    """Release the lock; False when the session that held it is gone."""
    if connection.invalidated:  # gone already (:func:`check_job_lock` found it so)
        return False
    try:
        unlock = text("SELECT pg_advisory_unlock(:key)")
        return bool(connection.execute(unlock, {"key": ADVISORY_KEY}).scalar())
    except DBAPIError:
        return False
