"""Live holders of spool segments, for the spool tests: what tells a live segment from an orphan
is its writer's lock (``lake.spool``), never the pid in its name."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from pullstats.lake.spool import OPEN_SUFFIX, SpoolWriter


@contextlib.contextmanager
def held(path: Path) -> Iterator[None]:
    """``path`` locked as a live writer holds the segment it appends to."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def writer_here(spool: Path, lines: bytes) -> Iterator[Path]:
    """A live :class:`SpoolWriter` of this process that appended ``lines``: its open segment."""
    writer = SpoolWriter(spool, segment_bytes=1 << 20)
    try:
        writer.append(lines)
        [segment] = spool.glob(f"*{OPEN_SUFFIX}")
        yield segment
    finally:
        writer.close()


@contextlib.contextmanager
def writer_elsewhere(spool: Path, lines: bytes) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A live :class:`SpoolWriter` of a child process that appended ``lines``: its open segment
    and the child, which closes its writer and ends once its stdin is closed (unless killed)."""
    script = f"""
import sys
from pathlib import Path
from pullstats.lake.spool import SpoolWriter
spool = Path({str(spool)!r})
writer = SpoolWriter(spool, segment_bytes=1 << 20)
writer.append({lines!r})
print(next(spool.glob("*{OPEN_SUFFIX}")), flush=True)
sys.stdin.read()
writer.close()
"""
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        yield Path(child.stdout.readline().strip()), child
    finally:
        assert child.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            child.stdin.close()
        child.wait(timeout=30)
        child.stdout.close()  # type: ignore[union-attr]
