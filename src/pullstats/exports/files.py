"""Export file bytes: names, deterministic gzip (mtime 0, no stored name), size and checksum."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from pullstats.lake.atomic import atomic_path
from pullstats.periods import Period

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class WrittenPart:
    file_name: str
    path: Path
    size: int
    rows: int
    sha256: str


def part_file_name(namespace: str, view: str, period: Period, part: int) -> str:
    return f"{namespace}_{view}_{period.label}_part{part:03d}.csv.gz"


def compress_part(csv_path: Path, target: Path, rows: int) -> WrittenPart:
    """gzip ``csv_path`` into ``target`` with a header that never varies between runs."""
    digest = hashlib.sha256()
    with atomic_path(target) as tmp:
        with (
            open(tmp, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
            open(csv_path, "rb") as source,
        ):
            shutil.copyfileobj(source, gz, _CHUNK)
        with open(tmp, "rb") as written:
            while chunk := written.read(_CHUNK):
                digest.update(chunk)
        size = tmp.stat().st_size
    return WrittenPart(target.name, target, size, rows, digest.hexdigest())
