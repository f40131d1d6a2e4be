"""Where everything lives inside the data dir, in one place."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path


@dataclass(frozen=True)
class DataDir:
    """The folders and files of one data dir; creating them is :meth:`ensure`'s job."""

    root: Path

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def requests(self) -> Path:
        return self.root / "lake" / "requests"

    @property
    def actions(self) -> Path:
        return self.root / "lake" / "actions"

    @property
    def imported(self) -> Path:
        """Actions imported from Docker Hub raw CSVs: ``day=D/part-<sha256>.parquet``."""
        return self.root / "lake" / "imported"

    @property
    def imported_summaries(self) -> Path:
        """Imported summary rows: ``<week|month>/<period start>/part-<sha256>.parquet``."""
        return self.root / "lake" / "imported-summaries"

    @property
    def imported_files(self) -> Path:
        """One ``<sha256>.json`` per imported file, written last: its presence means done."""
        return self.root / "lake" / "imported-files"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def job_lock(self) -> Path:
        return self.root / "jobs.lock"

    def requests_day(self, day: date) -> Path:
        return self.requests / f"day={day.isoformat()}"

    def actions_day(self, day: date) -> Path:
        return self.actions / f"day={day.isoformat()}"

    def imported_day(self, day: date) -> Path:
        return self.imported / f"day={day.isoformat()}"

    def ensure(self) -> DataDir:
        for folder in (self.spool, self.requests, self.actions, self.exports, self.tmp, self.keys):
            folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.keys, 0o700)
        return self

    def secret_key(self, name: str, nbytes: int = 32) -> bytes:
        """A key generated into ``keys/`` on first use and read back ever after.

        Written with a temporary name and linked into place, so two processes starting at once
        agree on a single key.
        """
        path = self.keys / name
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        self.ensure()
        tmp = self.keys / f".{name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(nbytes))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # fails if another process won the race; theirs is kept
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return path.read_bytes()
