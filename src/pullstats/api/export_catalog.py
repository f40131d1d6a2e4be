"""The export catalog as the API reads it: cached per exports epoch, read off the event loop.

The listings (years, months, weeks, one period), a view's signed links and every signed
download read ``export_periods`` and ``export_files``. Each read is cached under the catalog's
exports epoch, which triggers bump on every change to those tables (migration 0010) and which
every request reads anyway with the data generation; a hit never leaves the event loop, a miss
reads the catalog in the thread pool once. A new epoch changes every key, so nothing stale is
served: an export written by another process is listed on the very next request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from pullstats.api.cache import LruCache
from pullstats.db.models import ExportFile
from pullstats.exports.catalog import exported_periods, report_periods, view_files
from pullstats.periods import Period


@dataclass(frozen=True, slots=True)
class FileEntry:
    """What a signed link and a download need of one export file (a catalog row)."""

    id: int
    path: str
    file_name: str
    size: int
    sha256: str
    namespace: str

    @classmethod
    def of(cls, row: ExportFile) -> FileEntry:
        return cls(row.id, row.path, row.file_name, row.size, row.sha256, row.namespace)


#: the largest id the column holds (INTEGER, 32 bits on PostgreSQL); a larger one cannot be bound
MAX_FILE_ID = 2**31 - 1


T = TypeVar("T")


async def _read_through(cache: LruCache[T], key: str, read: Callable[[], T]) -> T:
    """``cache``'s value of ``key``, or ``read``'s, run once in the thread pool and kept."""
    found = cache.get(key)
    if found is None:
        found = await run_in_threadpool(read)
        cache.put(key, found)
    return found


class ExportCatalog:
    """Cached reads of the export catalog, each keyed by the exports epoch it was read at."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._periods: LruCache[tuple[Period, ...]] = LruCache()
        self._views: LruCache[tuple[FileEntry, ...]] = LruCache()
        self._files: LruCache[tuple[FileEntry, ...]] = LruCache(max_entries=8192)

    async def periods(
        self, namespace: str, epoch: int, report: str | None = None
    ) -> tuple[Period, ...]:
        """Every exported period of ``namespace``, oldest first; with ``report`` (a report
        file's catalog name), those whose export has that report."""

        def read() -> tuple[Period, ...]:
            with self._sessions() as session:
                if report is None:
                    return tuple(exported_periods(session, namespace))
                return tuple(report_periods(session, namespace, report))

        key = f"{epoch}\0{namespace}\0{report or ''}"
        return await _read_through(self._periods, key, read)

    async def view(
        self, namespace: str, period: Period, view: str, epoch: int
    ) -> tuple[FileEntry, ...]:
        """The parts of one view of one exported period, in part order."""
        key = f"{epoch}\0{namespace}\0{period.kind.value}\0{period.start}\0{view}"

        def read() -> tuple[FileEntry, ...]:
            with self._sessions() as session:
                rows = view_files(session, namespace, period, view)
                return tuple(FileEntry.of(row) for row in rows)

        return await _read_through(self._views, key, read)

    async def file(self, file_id: int, epoch: int) -> FileEntry | None:
        """The export file of ``file_id``, None when there is none (an unknown id is cached
        too: a flood of forged links costs one read per epoch and id)."""
        if not 0 < file_id <= MAX_FILE_ID:  # a larger id cannot be bound to SQL: no such file
            return None

        def read() -> tuple[FileEntry, ...]:
            with self._sessions() as session:
                row = session.get(ExportFile, file_id)
                return (FileEntry.of(row),) if row is not None else ()

        found = await _read_through(self._files, f"{epoch}\0{file_id}", read)
        return found[0] if found else None
