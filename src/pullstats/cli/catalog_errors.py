"""The catalog database's failures as one line each: what the operator can do about them.

A server that does not answer, or went away mid-command, is an outage: run the command again
(nothing was half-published). A ``PULLSTATS_DATABASE_URL`` that names a database, user,
password or host that cannot be right is a setting to check: waiting will not mend it. An
SQLite file is named (its path holds no password), with what to do for a file. The URL itself
is never shown: it may hold a password.
"""

from __future__ import annotations

import re

from pullstats.db.engine import driver_said

__all__ = ["catalog_failure_line", "from_sqlite", "sqlite_catalog_line", "wrong_url"]


#: What the catalog's server (or libpq, or the resolver, as psycopg reports them) says when
#: PULLSTATS_DATABASE_URL names a database, user, password or host that cannot be right: no
#: waiting mends it. A name that fails to resolve for now (``Temporary failure in name
#: resolution``) is an outage, as a refused or lost connection is.
_WRONG_CATALOG_URL = re.compile(
    r'(database|role) "[^"]*" does not exist'
    r"|authentication failed|no password supplied|no pg_hba\.conf entry"
    r"|is not permitted to log in|permission denied for database"
    r"|Name or service not known|No address associated with hostname"
    # libpq's refusals of the URL's port or options (?sslmode=, ?foo=): never an outage
    r'|invalid port number|invalid connection option|invalid \w+ value: "'
)


def wrong_url(error: BaseException) -> bool:
    """Whether the driver's words for ``error`` say PULLSTATS_DATABASE_URL cannot be right."""
    return _WRONG_CATALOG_URL.search(driver_said(error)) is not None


def catalog_failure_line(error: BaseException) -> str:
    """The catalog database failed under a command: its driver's first line, never the URL
    (it may hold a password) nor the statement (it may hold data). A setting that cannot be
    right (no such database or user, a refused password, an unknown host) says to check it;
    a server that does not answer, or went away, to run the command again."""
    said = driver_said(error)
    if wrong_url(error):
        return (
            f"the catalog database (PULLSTATS_DATABASE_URL) cannot be used as set: {said}; "
            "check the host, database, user and password in PULLSTATS_DATABASE_URL"
        )
    return (
        f"the catalog database (PULLSTATS_DATABASE_URL) failed: {said}; "
        "nothing half-published, run the command again once it answers"
    )


def from_sqlite(error: BaseException) -> bool:
    """Whether ``error`` came from SQLite's driver: the catalog is a file, not a server."""
    return type(getattr(error, "orig", None)).__module__ == "sqlite3"


def sqlite_catalog_line(error: BaseException) -> str:
    """An SQLite catalog that failed: its file named (a path holds no password), and what to
    do, which for a file is not what it is for a server (waiting will not mend it)."""
    from sqlalchemy.engine import make_url

    from pullstats.config import Settings  # imported already: the catalog was opened with it

    path = make_url(Settings().database_url_value).database
    said = " ".join(str(getattr(error, "orig", error)).split())
    if said == "file is not a database":
        return (
            f"the catalog database {path} is not an SQLite database ({said}): restore it from "
            "a backup, or point PULLSTATS_DATABASE_URL at the right file"
        )
    if said == "unable to open database file":
        return (
            f"cannot open the catalog database {path} ({said}): PULLSTATS_DATABASE_URL must "
            "name a file in a folder that exists and this user may write, not a folder"
        )
    return f"the catalog database {path} failed: {said}; nothing half-published"
