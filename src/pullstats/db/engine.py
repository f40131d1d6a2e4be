"""Engine and sessions for the catalog; SQLite gets WAL, a busy timeout and foreign keys.

A SQLite catalog holds TOTP secrets and the hashes of passwords and tokens, so its file is
its owner's alone (0600) whatever the umask: made so before SQLite opens it (SQLite gives the
``-wal`` and ``-shm`` it makes the catalog file's mode), and tightened when an existing one,
or its ``-wal`` or ``-shm``, may be read by others, as ``keys/`` is re-set to 0700.
"""

from __future__ import annotations

import contextlib
import os
import stat
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

#: the mode of the SQLite catalog file and of its -wal and -shm
CATALOG_MODE = 0o600


def driver_said(error: BaseException) -> str:
    """What the database driver said of ``error`` (SQLAlchemy's wrapper's ``orig``): its first
    line, on one line (psycopg adds the server's detail and hint below), or the error's kind.
    Never the URL (it may hold a password) nor the statement (it may hold data)."""
    cause = getattr(error, "orig", None) or error
    first = next((line.strip() for line in str(cause).splitlines() if line.strip()), "")
    return " ".join(first.split()) or type(cause).__name__


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def sqlite_file(url: str) -> str | None:
    """The file a SQLite ``url`` names, as given (perhaps relative); None for another database,
    an in-memory one, or a ``uri=true`` filename (SQLite reads that one itself)."""
    parsed = make_url(url)
    database = parsed.database
    uri = str(parsed.query.get("uri", "")).lower() in ("true", "1")
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" or uri:
        return None
    return database


def private_sqlite_file(url: str) -> None:
    """Make the catalog file of a SQLite ``url`` 0600, or tighten the one there to it.

    Where nothing can be made (no such folder, a read-only file system) or changed (another
    user's file) it is left to SQLite to open or refuse, as it did: nothing is refused here.
    """
    database = sqlite_file(url)
    if database is None:
        return
    try:
        fd = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, CATALOG_MODE)
    except FileExistsError:
        pass
    except OSError:  # a missing folder, a read-only file system: SQLite says which
        return
    else:
        os.close(fd)  # an empty file is a new SQLite database
    for path in (database, f"{database}-wal", f"{database}-shm"):
        _tighten(path)


def _tighten(path: str) -> None:
    """Take every permission of group and others off ``path`` (if it is there and ours)."""
    with contextlib.suppress(OSError):  # missing, another user's, a read-only file system
        found = os.stat(path)
        if stat.S_ISREG(found.st_mode) and found.st_mode & 0o077:
            os.chmod(path, stat.S_IMODE(found.st_mode) & ~0o077)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
