"""The job lock of a runtime's installation: process, compaction, imports and export never
run at the same time (how it is held, on SQLite and on PostgreSQL: :mod:`pullstats.job_lock`).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator

from pullstats.job_lock import ADVISORY_KEY, POLL_SECONDS, JobLockBusy, JobLockLost, hold_job_lock
from pullstats.runtime import Runtime

__all__ = ["ADVISORY_KEY", "POLL_SECONDS", "JobLockBusy", "JobLockLost", "job_lock"]


@contextlib.contextmanager
def job_lock(runtime: Runtime, *, wait_seconds: float = 600.0) -> Iterator[None]:
    """Hold the exclusive job lock of ``runtime``'s installation for the block
    (:func:`pullstats.job_lock.hold_job_lock`).

    Waits for it up to ``wait_seconds``, then raises :class:`JobLockBusy`. While it is held
    no other process writes the lake or the exports, so their stores hold their listings
    (:meth:`pullstats.storage.Store.holding_listings`): on S3, a listed file is read without a
    ``HEAD`` request for each question DuckDB asks about it.

    Once it is held, what jobs staged in the data dir's ``tmp/job`` is deleted: no job is
    running, so it was left by one that was killed (a day's files being compacted, an export's
    files on their way to object storage can be hundreds of megabytes).
    """
    settings = runtime.settings
    with (
        hold_job_lock(runtime.engine, runtime.paths.job_lock, wait_seconds=wait_seconds),
        settings.lake.holding_listings(),
        settings.exports_store.holding_listings(),
    ):
        shutil.rmtree(runtime.paths.job_tmp, ignore_errors=True)
        yield
