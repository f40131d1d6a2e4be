"""What every command shares: opening the installation, consoles, and turning errors into lines."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pullstats.accounts.errors import AccountError
from pullstats.config import Settings
from pullstats.db.migrate import SchemaOutdated
from pullstats.lake.jobs import JobLockBusy
from pullstats.runtime import Runtime

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/] {escape(message)}", markup=True)  # a path may hold "["
    return typer.Exit(code)


@contextlib.contextmanager
def opened(settings: Settings | None = None) -> Iterator[Runtime]:
    """The installation named by the environment, with known errors shown as one line."""
    try:
        runtime = Runtime.open(settings)
    except SchemaOutdated as error:
        raise fail(str(error)) from None
    try:
        yield runtime
    except (AccountError, JobLockBusy) as error:
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
