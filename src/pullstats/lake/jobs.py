"""The job lock: process, compaction and export never run at the same time (flock on jobs.lock)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path


class JobLockBusy(RuntimeError):
    """Another pullstats job holds the lock and did not release it in time."""


@contextlib.contextmanager
def job_lock(path: Path, *, wait_seconds: float = 600.0) -> Iterator[None]:
    """Hold the exclusive job lock for the block; wait for it up to ``wait_seconds``."""
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
                time.sleep(0.1)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
