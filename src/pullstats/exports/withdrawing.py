"""Withdrawing a (namespace, period)'s export: its catalog rows, then its files.

A namespace's period is exported while it holds data of the namespace's (its repositories,
or an extra repo's). When it holds none any more (an extra repo's grant removed), the files
an earlier export wrote would keep serving that repository's rows to the namespace's members:
``pullstats export`` withdraws them. Under the job lock, like every export.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable

from sqlalchemy import delete, select

from pullstats.db.models import ExportFile, ExportPeriod
from pullstats.periods import Period
from pullstats.runtime import Runtime


def withdraw(runtime: Runtime, namespace: str, period: Period) -> None:
    """Delete the period's catalog rows (the listings and links stop naming it at once; the
    exports epoch moves with them), then its folders."""
    keys = (
        ExportFile.namespace == namespace,
        ExportFile.period_kind == period.kind.value,
        ExportFile.period_start == period.start,
    )
    with runtime.sessions.begin() as session:
        paths = set(session.scalars(select(ExportFile.path).where(*keys)))
        session.execute(delete(ExportFile).where(*keys))
        session.execute(
            delete(ExportPeriod).where(
                ExportPeriod.namespace == namespace,
                ExportPeriod.period_kind == period.kind.value,
                ExportPeriod.period_start == period.start,
            )
        )
    delete_folders(runtime, folders_of(paths))


def folders_of(paths: Iterable[str]) -> set[str]:
    """The export folders holding ``paths`` (keys under the exports store)."""
    return {path.rsplit("/", 1)[0] for path in paths}


def delete_folders(runtime: Runtime, folders: Iterable[str]) -> None:
    """Delete the export ``folders`` (keys under the exports store), which no catalog row
    names any more, on the store and in a local copy."""
    store = runtime.settings.exports_store
    for folder in folders:
        store.delete_folder(folder)
        local = store.local_path(folder)
        if local is not None:
            shutil.rmtree(local, ignore_errors=True)
