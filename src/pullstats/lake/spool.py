"""Stage 0, the spool: append-only segment files, fsync'd before an ingest answer.

Each writing process owns its own segments (``<created_us>-<pid>-<seq>.open``), so writers never
share a file. Lines are whole JSON records ending in ``\\n``; a reader only ever takes bytes up to
the last newline, so a line being written is never half-read. A full or old segment is renamed to
``.seg`` (closed). Segments no writer holds any more (its process died) are sealed by the next
writer or reader: truncated to their last newline (the torn tail was never acknowledged, so its
sender retries) and closed.

Who owns a segment is an ``flock`` its writer holds from creating it until it is renamed, not
the pid in its name: the pid of a live server seen from another PID namespace (a jobs
container sharing the data dir) may be free, and a new server may have a dead one's pid. The
kernel drops the lock when its process dies, so a segment whose lock can be taken is sealed,
with the lock held throughout. The pid stays in the name, for people and unique names only.

Durability uses group commit: concurrent appends queue up, one thread writes them all and issues
a single fsync, then every waiting append returns.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import fcntl
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

OPEN_SUFFIX = ".open"
CLOSED_SUFFIX = ".seg"
#: how far back a seal reads at a time, looking for a segment's last newline
_TAIL_CHUNK = 64 * 1024

log = logging.getLogger(__name__)


def _take(fd: int, path: Path) -> bool:
    """Take the lock on the segment open as ``fd`` without waiting. True when it was free and
    ``path`` still names that file: a writer renames its segment before it lets go, and a
    sealer renames the segment it holds, so a name that moved on belongs to no one here."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _whole_lines_end(fd: int) -> int:
    """The size of the segment's whole lines: its bytes up to its last newline."""
    end = os.fstat(fd).st_size
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        at = os.pread(fd, end - start, start).rfind(b"\n")
        if at >= 0:
            return start + at + 1
        end = start
    return 0


def seal_orphans(folder: Path) -> list[Path]:
    """Close the open segments that no writer holds; returns the sealed paths.

    A segment is held by its writer's lock, whatever pid its name carries (see the module's
    doc); one whose lock is free is cut to its last newline and renamed with the lock held, so
    no writer can take it back meanwhile."""
    sealed = []
    for segment in sorted(folder.glob(f"*{OPEN_SUFFIX}")):
        try:
            fd = os.open(segment, os.O_RDWR)
        except FileNotFoundError:  # closed (renamed) by its writer since the listing
            continue
        try:
            if not _take(fd, segment):
                continue
            keep = _whole_lines_end(fd)
            if keep != os.fstat(fd).st_size:
                os.ftruncate(fd, keep)
                os.fsync(fd)
            closed = segment.with_suffix(CLOSED_SUFFIX)
            os.replace(segment, closed)
            sealed.append(closed)
        finally:
            os.close(fd)  # and so the lock
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
        # the open segment: both set (its fd holding its lock) or both None
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
        for _ in range(3):  # a name taken, or a new segment sealed before it was locked: again
            self._seq += 1
            name = f"{time.time_ns() // 1000:016d}-{os.getpid()}-{self._seq:06d}{OPEN_SUFFIX}"
            file = self._folder / name
            try:  # O_EXCL: never appends to a file another process made (its pid may be ours)
                fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            except FileExistsError:
                continue
            try:
                held = _take(fd, file)  # False: a sealer took the empty file first
            except BaseException:  # no lock to be had here: a segment no one can seal, none
                with contextlib.suppress(OSError):
                    file.unlink()
                os.close(fd)
                raise
            if not held:
                os.close(fd)
                continue
            self._file, self._handle = file, fd  # only once held: one that is not, is none
            self._written = 0
            self._opened_at = time.monotonic()
            return
        raise OSError(errno.EAGAIN, "no new spool segment could be made and locked", str(file))

    def _abandon_segment(self) -> None:
        """After a failed write or close: cut the segment back to the lines written whole before
        it (the rest was never acknowledged: its senders retry), and close it, or remove it when
        it holds none. A torn last line would keep compaction from reading the segment to its
        end, so retention would never delete it, nor the raw IPs it holds. All that while it is
        still locked; its state is cleared first, so nothing here can reach an fd twice."""
        file, fd, whole = self._file, self._handle, self._written
        self._file = self._handle = None
        if fd is not None:
            with contextlib.suppress(OSError):  # a file that cannot shrink: readers stop at its
                os.ftruncate(fd, whole)  # last newline still
        if file is not None:
            with contextlib.suppress(OSError):  # left open: sealed once its lock is let go
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
        # renamed while its fd, and so its lock, is held: no sealer can take it meanwhile; a
        # rename that fails leaves the state as it was, for _abandon_segment
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
