"""``pullstats hold-job-lock -- CMD [ARGS]...``: run a command of the operator's while holding
the installation's job lock, whichever catalog it has (:mod:`pullstats.job_lock`).

Its use is a backup: ``sqlite3 .backup`` or ``pg_dump`` and a copy of the lake, with no
``process``, ``export``, import or compaction writing either meanwhile, on any node that shares
the catalog. An ``flock`` on ``jobs.lock`` does that only on SQLite: on PostgreSQL the job lock
is an advisory lock in the catalog database, which only a session of that database can hold.

The command runs as a shell would run it: with this process's environment, standard input and
output, and its exit status is this command's (128 + N when signal N ended it; 127 when it is
not found, 126 when it cannot be run). While it runs, an interrupt from the terminal (which the
command gets too) is left to the command, and a SIGTERM or SIGHUP sent to this process is passed
on to it: the lock is never let go while the command still runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import typer

from pullstats.cli.common import fail, opened
from pullstats.job_lock import hold_job_lock

#: the exit statuses of a command a shell cannot run: not found, found but not executable
NOT_FOUND = 127
CANNOT_RUN = 126


def hold_job_lock_command(
    command: list[str] = typer.Argument(
        ...,
        metavar="CMD [ARGS]...",
        help="The command to run, then its arguments: all from CMD on are its own, options too "
        "(a -- before CMD is allowed, not needed).",
        show_default=False,
    ),
) -> None:
    """Run CMD while holding the installation's job lock: no process, export, import or
    compaction runs meanwhile, on any node sharing the catalog. For a backup that takes the
    catalog and the lake from the same moment (docs/operations.md, Backups). The lock is the
    one the jobs take (SQLite: an flock on the data dir's jobs.lock; PostgreSQL: an advisory lock
    in the catalog database), waited for as they do (up to 10 min). CMD gets the environment as
    it is; the exit status is CMD's (127: not found). Run no pullstats job inside it: that job
    would wait for the lock this command holds."""
    name = command[0]
    refused = _not_runnable(name)  # before the lock: a typo waits for nothing
    if refused is not None:
        raise fail(*refused)
    with (
        opened(create=False) as runtime,  # an installation that is there, never a new one
        hold_job_lock(runtime.engine, runtime.paths.job_lock),
    ):
        status = _run(command)
    raise typer.Exit(status)


def _not_runnable(name: str) -> tuple[str, int] | None:
    """Why a shell could not run ``name``, and the status it would exit with; None if it can."""
    if shutil.which(name) is not None:
        return None
    if os.sep not in name:
        path = os.environ.get("PATH", os.defpath)
        return f"{name}: command not found (PATH={path}): nothing was run", NOT_FOUND
    if not os.path.exists(name):
        return f"{name}: no such file: nothing was run", NOT_FOUND
    return f"{name}: not an executable file: nothing was run", CANNOT_RUN


def _run(command: list[str]) -> int:
    """Run ``command`` to its end; its exit status as a shell gives it."""
    try:
        child = subprocess.Popen(command)  # the operator's own command, as given
    except FileNotFoundError:  # gone since it was looked up
        raise fail(f"{command[0]}: command not found: nothing was run", NOT_FOUND) from None
    except OSError as error:
        raise fail(f"{command[0]}: cannot run it: {error.strerror}", CANNOT_RUN) from None
    with _passing_signals_to(child):
        returncode = child.wait()
    return 128 - returncode if returncode < 0 else returncode


@contextmanager
def _passing_signals_to(child: subprocess.Popen[bytes]) -> Iterator[None]:
    """While ``child`` runs: SIGINT and SIGQUIT, which a terminal sends to the child too, are
    left to it (as a shell waiting for a command does); SIGTERM and SIGHUP are passed on to it.
    Either way this process waits for the child, and so holds the lock until it ends."""

    def pass_on(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    handlers: dict[signal.Signals, Callable[[int, FrameType | None], None] | int] = {
        signal.SIGINT: signal.SIG_IGN,
        signal.SIGQUIT: signal.SIG_IGN,
        signal.SIGTERM: pass_on,
        signal.SIGHUP: pass_on,
    }
    before = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        yield
    finally:
        for signum, handler in before.items():  # None: one that C code set, not Python
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
