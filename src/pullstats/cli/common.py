"""What every command shares: opening the installation, consoles, and turning errors into lines.

Every error a command meets ends as one ``error: …`` line on stderr and exit status 1: the
expected ones (a bad setting, a taken name, a missing file) with a message that says what to
do, anything else with its type and message. ``pullstats --debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:  # imported where used: `pullstats hub` and `--help` need no catalog
    from pullstats.client.errors import ClientError
    from pullstats.config import Settings
    from pullstats.runtime import Runtime

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class _Flags:
    debug = False  # set by the global --debug option


flags = _Flags()


def counted(count: int, noun: str) -> str:
    """``1 day``, ``2 days``: a count and its noun, plural unless the count is one."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def days_span(days: Iterable[date]) -> str:
    """`` on 2 days (2026-10-05 to 2026-10-06)``, `` on 1 day (2026-10-05)``, or nothing."""
    ordered = sorted(days)
    if not ordered:
        return ""
    first, last = ordered[0], ordered[-1]
    shown = f"{first} to {last}" if last != first else str(first)
    return f" on {counted(len(ordered), 'day')} ({shown})"


#: The exit status of a usage error: an option's value the command cannot take (click's own).
USAGE = 2


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` as one ``error:`` line on stderr; the exit to raise. A file name or
    value in it cannot break the line, colour the terminal or reorder the text: control and
    direction characters are written as escapes (``logs.escape_for_terminal``)."""
    from pullstats.logs import escape_for_terminal

    line = escape(escape_for_terminal(message))  # and rich markup: a path may hold "["
    err.print(f"[red]error:[/] {line}", markup=True)
    return typer.Exit(code)


class Application(typer.Typer):
    """The command tree, run so that an unexpected error is one line, not a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as error:  # click's own errors and exits never come this far
            if flags.debug:
                raise
            interrupted_exit(error)  # 130: as for a Ctrl-C outside DuckDB
            for line in error_lines(error):
                fail(line)
            sys.exit(1)


def error_lines(error: BaseException) -> list[str]:
    """What an error that no command turned into a message says, as one line (a line per bad
    setting), with a hint where the traceback is."""
    if isinstance(error, ValidationError) and error.title == "Settings":
        return settings_error_lines(error)
    if _raised_from(error, "pullstats.setting_values", "SettingRefused"):
        return [str(error)]
    if _raised_from(error, "sqlalchemy.exc", "DatabaseError", "InterfaceError"):
        from pullstats.cli import catalog_errors as catalog  # imported once one failed

        sqlite = catalog.from_sqlite(error) and _raised_from(
            error, "sqlalchemy.exc", "DatabaseError"
        )
        if sqlite:
            return [catalog.sqlite_catalog_line(error)]  # a file: named, and what to do about it
        # the catalog's server, not SQL: libpq refuses a URL's unknown option before it
        # connects with a ProgrammingError, which a statement's mistake raises too
        if _raised_from(error, "sqlalchemy.exc", "OperationalError", "InterfaceError") or (
            catalog.wrong_url(error)
        ):
            return [catalog.catalog_failure_line(error)]
    if _raised_from(error, "duckdb", "OutOfMemoryException"):
        return [out_of_memory_line(error)]
    if _raised_from(error, "duckdb", "IOException"):
        return [duckdb_file_line(error)]
    if _interrupted(error):
        return ["interrupted: run the command again to finish (what it wrote is not counted twice)"]
    if _is_client_error(error):
        return [client_error_line(error)]
    if isinstance(error, PermissionError) and error.filename:
        return [permission_line(error)]
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return [f"{where}{error.strerror} (pullstats --debug … shows the traceback)"]
    text = " ".join(str(error).split()) or "no message"
    if _NO_S3A in text:  # Spark's JVM, asked to read s3a:// paths without hadoop-aws
        from pullstats.spark_s3 import no_hadoop_aws

        return [no_hadoop_aws()]  # what to do for a JVM of this command's, or spark-submit's
    if len(text) > MAX_ERROR_CHARS:  # a Java stack trace, say: its head tells what went wrong
        text = text[:MAX_ERROR_CHARS] + " …"
    return [f"{type(error).__name__}: {text} (pullstats --debug … shows the traceback)"]


def permission_line(error: PermissionError) -> str:
    """A file the command may not touch, with whose it is and who runs the command: most
    often a data dir made by the service's user, used by root or another user (or the
    reverse)."""
    import pwd

    def user(uid: int) -> str:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return f"uid {uid}"

    path = Path(os.fsdecode(error.filename))
    line = f"{path}: {error.strerror}"
    for held in (path, *path.parents):  # the nearest the command may look at: whose it is
        try:
            info = held.stat()
        except OSError:
            continue
        owner, me = user(info.st_uid), user(os.geteuid())
        if info.st_uid != os.geteuid():
            return (
                f"{line}: {held} belongs to {owner} (mode {info.st_mode & 0o7777:04o}) and this "
                f"command runs as {me}: run it as {owner} (sudo -u {owner} pullstats …)"
            )
        return f"{line}: {held} is {me}'s, mode {info.st_mode & 0o7777:04o}: its mode forbids this"
    return line


#: How much of an unexpected error's text its line shows.
MAX_ERROR_CHARS = 500
_NO_S3A = "Class org.apache.hadoop.fs.s3a.S3AFileSystem not found"


def _interrupted(error: BaseException) -> bool:
    """Ctrl-C that a library turned into an error of its own. DuckDB, while it ran a query:
    its own interrupt, or, while it read rows that Python makes (an import's lines), the
    RuntimeError it turns the KeyboardInterrupt into. pydantic-core, while a module's models
    were built at import: a SchemaError whose text names the KeyboardInterrupt, unchained.
    Python 3.11 itself, while a class was made at import (a dataclass's fields): a RuntimeError
    caused by the KeyboardInterrupt."""
    return (
        isinstance(error.__cause__, KeyboardInterrupt)
        or _raised_from(error, "duckdb", "InterruptException")
        or (type(error) is RuntimeError and str(error).startswith("Query interrupted"))
        or (
            _raised_from(error, "pydantic_core", "SchemaError")
            and "KeyboardInterrupt" in str(error)
        )
    )


def interrupted_exit(error: Exception) -> None:
    """Exit 130 with the interrupted line if ``error`` is a Ctrl-C that a library wrapped
    (:func:`_interrupted`); return otherwise."""
    if _interrupted(error):
        for line in error_lines(error):
            fail(line)
        sys.exit(130)


def out_of_memory_line(error: BaseException) -> str:
    """DuckDB ran out of the memory the settings give it: which settings to change, in their
    names (DuckDB's own advice names its SQL: ``SET threads``, ``SET memory_limit``)."""
    from pullstats.config import Settings  # imported already: DuckDB was opened with it

    variable = "PULLSTATS_DUCKDB_MEMORY_LIMIT"
    limit = os.environ.get(variable, Settings.model_fields["duckdb_memory_limit"].default)
    said = str(error).split("Possible solutions:", 1)[0].split("Error: ", 1)[-1]
    return (
        f"DuckDB ran out of memory within {variable}={limit!r} ({' '.join(said.split())}): "
        "raise it, or lower PULLSTATS_DUCKDB_THREADS (each thread takes its share)"
    )


def duckdb_file_line(error: BaseException) -> str:
    """A file DuckDB could not read or write, as the file and what the system said: DuckDB
    wraps that in a JSON object of its own when a write of its failed (a full disk)."""
    text = " ".join(str(error).split())
    start = text.find('{"exception_type"')
    if start >= 0:
        with contextlib.suppress(ValueError):
            said, _ = json.JSONDecoder().raw_decode(text[start:])
            if isinstance(said, dict) and isinstance(said.get("exception_message"), str):
                text = said["exception_message"]
    text = text.removeprefix("IO Error: ")
    if "No space left on device" in text:
        return f"{text}: free space on its disk, then run the command again"
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + " …"
    return f"{text} (pullstats --debug … shows the traceback)"


def _raised_from(error: BaseException, module: str, *names: str) -> bool:
    """Whether ``error`` is one of ``module``'s exceptions ``names``, asked without importing
    the module: an error of a module exists only once the module is imported. So a command
    that never needs the catalog, the settings or the client (``pullstats hub``, ``--help``)
    does not import them to tell its errors apart."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(error, tuple(getattr(loaded, n) for n in names))


def _is_client_error(error: BaseException) -> TypeGuard[ClientError]:
    """An error of the client (:func:`_raised_from`): importing it would cost every command a
    fifth of a second."""
    return _raised_from(error, "pullstats.client.errors", "ClientError")


def client_error_line(error: ClientError) -> str:
    """A failure of the DVP client (``pullstats hub``): what happened, in the server's own
    words (its status and message), and what to do. The one place the client's exception tree
    (``pullstats.client.errors``) becomes lines; never holds a password or token."""
    from pullstats.client.errors import (
        AuthenticationRequired,
        Forbidden,
        NotFound,
        RateLimited,
        SecondFactorRequired,
        ServerError,
        TransportError,
    )

    said = error.message
    login = f"pullstats hub login --url {error.server}" if error.server else "pullstats hub login"
    if isinstance(error, SecondFactorRequired):
        return f"the account has two-factor authentication on ({said}): run `{login}`"
    if isinstance(error, AuthenticationRequired):
        if os.environ.get("PULLSTATS_HUB_USERNAME") and os.environ.get("PULLSTATS_HUB_PASSWORD"):
            # they are set, and were what the server refused last
            fix = "or correct PULLSTATS_HUB_USERNAME and PULLSTATS_HUB_PASSWORD"
        else:
            fix = "or set PULLSTATS_HUB_USERNAME and PULLSTATS_HUB_PASSWORD"
        return f"not signed in ({said}): run `{login}`, {fix}"
    if isinstance(error, Forbidden):
        return f"not allowed ({said}): the token may not do this (a scope it lacks?)"
    if isinstance(error, NotFound):
        return f"not found ({said}): no such namespace, repository or period, or not yours to read"
    if isinstance(error, RateLimited):
        seconds = f"{error.retry_after:.0f}" if error.retry_after else ""
        # the wait once: pullstats' own message says it already ("try again in 895 s")
        told = seconds and re.search(rf"(?<![\d.]){seconds} s\b", said)
        wait = f": try again in {seconds} s" if seconds and not told else ""
        return f"too many requests ({said}){wait}"
    if isinstance(error, ServerError):
        if error.status == 501:  # a method it does not know: no DVP API server
            return f"the server does not implement this request ({said})"
        if error.status is not None and error.status >= 500:
            return f"the server failed ({said}): try again later"
        return f"the server could not use the request or its answer ({said})"
    if isinstance(error, TransportError):
        return f"no answer from the server: {said}"
    return said


#: What a value of each setting type must look like, said the operator's way.
_EXPECTED = {
    # pydantic reads no bare number of seconds (docs/operations.md, Durations): PT90S
    "timedelta": "a duration: ISO 8601 such as PT2H, PT15M, P7D or PT90S",
    "int": "a whole number",
    "bool": "true or false",
    "Path": "a path",
}


def settings_error_lines(error: ValidationError) -> list[str]:
    """One line per bad ``PULLSTATS_*`` value: the variable, the value and what is expected."""
    from pullstats.config import Settings  # imported already: its validation failed

    lines = []
    for problem in error.errors():
        message = str(problem["msg"]).removeprefix("Value error, ")
        if not problem["loc"]:  # a check across settings names them itself
            lines.append(f"PULLSTATS_* settings: {message}")
            continue
        field = str(problem["loc"][0])
        variable = f"PULLSTATS_{field.upper()}"
        info = Settings.model_fields.get(field)
        if info is not None and "SecretStr" in str(info.annotation):
            shown = "(value not shown: it is a secret)"
        else:
            raw = os.environ.get(variable, problem.get("input"))
            # a URL's user and password, never shown: a refused value may hold them
            shown = repr(re.sub(r"://[^/@]*@", "://***@", raw) if isinstance(raw, str) else raw)
        type_name = getattr(info.annotation, "__name__", "") if info is not None else ""
        expected = _EXPECTED.get(type_name)
        if expected and problem["type"].endswith(("_parsing", "_type")):
            message = f"expected {expected}"
        else:
            message = message[:1].lower() + message[1:]
        lines.append(f"{variable}={shown}: {message}")
    return lines


@contextlib.contextmanager
def opened(
    settings: Settings | None = None,
    *,
    create: bool = True,
    new_dir: bool = True,
    adopt: bool = False,
    copied: bool = False,
) -> Iterator[Runtime]:
    """The installation named by the environment, with known errors shown as one line.

    ``create=False`` is for commands that only read: they open an existing installation and
    create nothing (no data dir, no catalog) when there is none. ``new_dir=False`` is for the
    jobs (``process``, ``export``), which may write but have nothing to work on in a new
    installation: a data dir that is not there is refused as by the commands that only read,
    so a mistyped ``PULLSTATS_DATA_DIR`` in a cron job is an error, not a success on nothing.
    ``adopt``: see :meth:`Runtime.open` (``pullstats db upgrade --adopt``); ``copied`` too
    (``pullstats db copy``).
    """
    from pullstats.accounts.errors import AccountError
    from pullstats.config import Settings
    from pullstats.db.keys import KeysDiffer
    from pullstats.db.migrate import SchemaOutdated
    from pullstats.db.nodes import NodeNameTaken
    from pullstats.lake.jobs import JobLockBusy, JobLockLost
    from pullstats.lake_meta import LakeVersionError
    from pullstats.runtime import NoInstallation, Runtime, no_data_dir
    from pullstats.storage import StorageError

    if not new_dir:
        settings = settings or Settings()
        if not settings.paths.root.is_dir():
            raise fail(no_data_dir(settings.paths.root))
    try:
        runtime = Runtime.open(settings, create=create, adopt=adopt, copied=copied)
    except (SchemaOutdated, NoInstallation, LakeVersionError, KeysDiffer, StorageError) as error:
        raise fail(str(error)) from None
    try:
        yield runtime
    except (
        AccountError,
        JobLockBusy,
        JobLockLost,
        KeysDiffer,
        NodeNameTaken,
        StorageError,
    ) as error:
        raise fail(str(error)) from None
    finally:
        runtime.close()


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


__all__ = [
    "Application",
    "client_error_line",
    "err",
    "error_lines",
    "fail",
    "flags",
    "opened",
    "out",
    "progress",
    "settings_error_lines",
]
