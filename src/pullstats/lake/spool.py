"""Stage 0, the spool: append-only segment files, fsync'd before an ingest answer.

Each writing process owns its own segments (``<created_us>-<pid>-<seq>.open``), so writers never
share a file. Lines are whole JSON records ending in ``\\n``; a reader only ever takes bytes up to
the last newline, so a line being written is never half-read. A full or old segment is renamed to
``.seg`` (closed). Segments of a process that died are sealed by the next writer or reader:
truncated to their last newline (the torn tail was never acknowledged, so its sender retries) and
closed.

Durability uses group commit: concurrent appends queue up, one thread writes them all and issues
a single fsync, then every waiting append returns.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

OPEN_SUFFIX = ".open"
CLOSED_SUFFIX = ".seg"

log = logging.getLogger(__name__)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_pid(segment: Path) -> int:
    try:
        return int(segment.name.split("-")[1])
    except (IndexError, ValueError):
        return -1


def seal_orphans(folder: Path) -> list[Path]:
    """Close the open segments whose writer process is gone; returns the sealed paths."""
    sealed = []
    for segment in sorted(folder.glob(f"*{OPEN_SUFFIX}")):
        pid = _owner_pid(segment)
        if pid == os.getpid() or _pid_alive(pid):
            continue
        with open(segment, "r+b") as handle:
            data = handle.read()
            keep = data.rfind(b"\n") + 1
            if keep != len(data):
                handle.truncate(keep)
                os.fsync(handle.fileno())
        closed = segment.with_suffix(CLOSED_SUFFIX)
        os.replace(segment, closed)
        sealed.append(closed)
    return sealed


def backlog(folder: Path, progress: Mapping[str, int]) -> tuple[int, int]:
    """The segments holding bytes compaction has not read yet, and those bytes: each segment's
    size less its recorded offset (``progress``). Stats only, no line read, so ``status`` stays
    quick however much waits; the open segment's torn last line, if any, is counted too."""
    segments = waiting = 0
    if not folder.is_dir():
        return 0, 0
    for segment in folder.iterdir():
        if segment.suffix not in (OPEN_SUFFIX, CLOSED_SUFFIX):
            continue
        try:
            size = segment.stat().st_size
        except FileNotFoundError:  # closed (renamed) since the listing: counted under its new name
            try:
                size = segment.with_suffix(CLOSED_SUFFIX).stat().st_size
            except FileNotFoundError:  # pruned
                continue
        left = size - progress.get(segment.stem, 0)
        if left > 0:
            segments += 1
            waiting += left
    return segments, waiting


@dataclass(frozen=True)
class SegmentSlice:
    """New, complete lines of one segment: bytes ``start..end`` of it."""

    name: str
    start: int
    end: int
    data: bytes
    closed: bool


def read_new_lines(
    folder: Path, progress: dict[str, int], *, max_bytes: int = 256 * 1024 * 1024
) -> list[SegmentSlice]:
    """Complete lines past each segment's recorded offset, oldest segments first.

    Stops adding segments once ``max_bytes`` are gathered (at least one slice is returned when
    there is anything new), so a caller loops until this returns nothing.
    """
    seal_orphans(folder)
    slices: list[SegmentSlice] = []
    total = 0
    for segment in sorted(folder.iterdir(), key=lambda p: p.stem):
        if segment.suffix not in (OPEN_SUFFIX, CLOSED_SUFFIX):
            continue
        # a segment may be closed (renamed) between listing and opening: follow it
        name = segment.stem
        path = segment if segment.exists() else segment.with_suffix(CLOSED_SUFFIX)
        start = progress.get(name, 0)
        try:
            with open(path, "rb") as handle:
                handle.seek(start)
                data = handle.read(max(max_bytes - total, 1 << 20))
        except FileNotFoundError:
            continue
        end = data.rfind(b"\n") + 1
        if end == 0:
            continue
        slices.append(
            SegmentSlice(name, start, start + end, data[:end], path.suffix == CLOSED_SUFFIX)
        )
        total += end
        if total >= max_bytes:
            break
    return slices


class SpoolWriterFailed(OSError):
    """What the appends waiting on a writer that failed unexpectedly (a bug, not a refused
    write) get: an ``OSError``, so a delivery is answered 503 (retry later) as for a full disk."""


def _unexpected(error: BaseException) -> SpoolWriterFailed:
    """A failure that is a bug: its trace in the log, and what the appends it failed get."""
    log.error("spool writer failed; its waiting appends are refused", exc_info=error)
    return SpoolWriterFailed(errno.EIO, f"spool writer failed: {type(error).__name__}")


def _refuse(future: concurrent.futures.Future[None], error: BaseException) -> None:
    """Fail ``future`` unless it is already answered or its waiter gave up (cancelled it)."""
    if future.done() or not (future.running() or future.set_running_or_notify_cancel()):
        return
    future.set_exception(error)


class SpoolWriter:
    """Appends lines to this process's open segment; ``append`` returns once they are on disk."""

    def __init__(self, folder: Path, *, segment_bytes: int, segment_seconds: float = 300.0):
        self._folder = folder
        self._segment_bytes = segment_bytes
        self._segment_seconds = segment_seconds
        self._lock = threading.Condition()
        self._pending: list[tuple[bytes, concurrent.futures.Future[None]]] = []
        self._closing = False
        self._seq = 0
        # the open segment: both set or both None
        self._handle: int | None = None
        self._file: Path | None = None
        self._written = 0
        self._opened_at = 0.0
        self.fsyncs = 0
        folder.mkdir(parents=True, exist_ok=True)
        seal_orphans(folder)
        self._thread = threading.Thread(target=self._run, name="spool-writer", daemon=True)
        self._thread.start()

    def submit(self, lines: bytes) -> concurrent.futures.Future[None]:
        """Queue whole lines (each ending in ``\\n``); the future resolves after their fsync."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("spool writer is closed")
            self._pending.append((lines, future))
            self._lock.notify()
        return future

    def append(self, lines: bytes) -> None:
        self.submit(lines).result()

    async def append_async(self, lines: bytes) -> None:
        await asyncio.wrap_future(self.submit(lines))

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._lock.notify()
        self._thread.join()

    def _run(self) -> None:
        # This thread answers every append: should it end, every later delivery would wait for
        # ever, unanswered. So nothing ends it but close().
        while True:
            batch: list[tuple[bytes, concurrent.futures.Future[None]]] = []
            try:
                with self._lock:
                    while not self._pending and not self._closing:
                        self._lock.wait(timeout=1.0)
                        if not self._pending and self._segment_expired():
                            self._close_or_abandon()
                    batch, self._pending = self._pending, []
                    closing = self._closing
                if batch:
                    self._write(batch)
                if closing and not batch:
                    self._close_or_abandon()
                    return
            except BaseException as error:  # a bug: answer the waiters, and go on
                self._recover(batch, error)

    def _recover(
        self, batch: list[tuple[bytes, concurrent.futures.Future[None]]], error: BaseException
    ) -> None:
        """After an unexpected failure: every waiting append is refused (its delivery answered
        503, which the registry retries), the segment abandoned, and the writer goes on."""
        failure = _unexpected(error)
        with self._lock:
            waiting, self._pending = self._pending, []
        for _, future in [*batch, *waiting]:
            _refuse(future, failure)
        self._abandon_segment()
        time.sleep(0.1)  # a failure that comes back at once fills no log at full speed

    def _write(self, batch: list[tuple[bytes, concurrent.futures.Future[None]]]) -> None:
        # A waiter that gave up (its request task was cancelled) cancelled its future; those
        # lines were never acknowledged, so they are dropped. The others become uncancellable
        # here: a cancel racing with the fsync could otherwise make set_result raise and kill
        # this thread, and every later append would wait for ever.
        batch = [
            (lines, future) for lines, future in batch if future.set_running_or_notify_cancel()
        ]
        if not batch:
            return
        try:
            # rotate by size, and by age even under steady load: segments hold the raw IPs, and
            # only closed segments can be pruned once retention passes
            if (
                self._file is None
                or self._written >= self._segment_bytes
                or self._segment_expired()
            ):
                self._close_segment()
                self._open_segment()
            payload = b"".join(lines for lines, _ in batch)
            fd = self._fd()
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            self.fsyncs += 1
            self._written += len(payload)
        except BaseException as error:  # every waiter must learn the write failed
            failure = error if isinstance(error, OSError) else _unexpected(error)
            for _, future in batch:
                future.set_exception(failure)
            self._abandon_segment()
            return
        for _, future in batch:
            future.set_result(None)

    def _fd(self) -> int:
        assert isinstance(self._handle, int)
        return self._handle

    def _segment_expired(self) -> bool:
        return (
            self._file is not None and time.monotonic() - self._opened_at >= self._segment_seconds
        )

    def _open_segment(self) -> None:
        self._seq += 1
        name = f"{time.time_ns() // 1000:016d}-{os.getpid()}-{self._seq:06d}{OPEN_SUFFIX}"
        file = self._folder / name
        self._handle = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = file  # only once open: a segment that could not be made is none
        self._written = 0
        self._opened_at = time.monotonic()

    def _abandon_segment(self) -> None:
        """After a failed write or close: cut the segment back to the lines written whole before
        it (the rest was never acknowledged: its senders retry), and close it, or remove it when
        it holds none. A torn last line would keep compaction from reading the segment to its
        end, so retention would never delete it, nor the raw IPs it holds. Its state is cleared
        first, so nothing here can reach an fd twice."""
        file, fd, whole = self._file, self._handle, self._written
        self._file = self._handle = None
        if fd is not None:
            with contextlib.suppress(OSError):  # a file that cannot shrink: readers stop at its
                os.ftruncate(fd, whole)  # last newline still
        if file is not None:
            with contextlib.suppress(OSError):  # left open: sealed once this process is gone
                if whole == 0:
                    file.unlink()
                else:
                    os.replace(file, file.with_suffix(CLOSED_SUFFIX))
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _close_segment(self) -> None:
        if self._file is None:
            return
        file, fd = self._file, self._fd()
        # renamed while its fd is open: a rename that fails leaves the state as it was, for
        # _abandon_segment
        os.replace(file, file.with_suffix(CLOSED_SUFFIX))
        self._file = self._handle = None  # before close: the fd number is no longer ours
        os.close(fd)

    def _close_or_abandon(self) -> None:
        """Close the segment (idle past its age, or the writer closing). One that cannot be
        renamed (renamed by someone else, its folder moved away) is abandoned as after a failed
        write, with one line in the log; the next write opens a new one."""
        file = self._file
        try:
            self._close_segment()
        except OSError as error:
            log.error("spool: could not close segment %s, abandoned it: %s", file, error)
            self._abandon_segment()
