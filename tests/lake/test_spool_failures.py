"""The spool writer outlives what fails around it: a segment it cannot close, a bug of its own.

Its one thread answers every append. When that thread died (an exception outside ``_write``'s
handling: a rename that failed while idle), every later delivery waited for ever, unanswered,
while ``/healthz`` said ok and a SIGTERM hung. Real files and threads; only failures that are
hard to cause on purpose (a rename refused at one exact moment) are stood in for.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from pullstats.lake import spool as spool_module
from pullstats.lake.spool import CLOSED_SUFFIX, OPEN_SUFFIX, SpoolWriter, read_new_lines


def line(n: int) -> bytes:
    return b'{"id":"%06d"}\n' % n


def stored(folder: Path) -> bytes:
    return b"".join(piece.data for piece in read_new_lines(folder, {}))


def test_a_failed_idle_rotation_leaves_the_writer_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the open segment renamed by someone else (or its folder moved away and back): its age
    # limit passes while idle, the rename that closes it fails, and that used to end the thread
    spool = tmp_path / "spool"
    writer = SpoolWriter(spool, segment_bytes=1 << 20, segment_seconds=0.5)
    try:
        writer.append(line(1))
        [segment] = spool.glob(f"*{OPEN_SUFFIX}")
        moved = segment.rename(tmp_path / "moved-away")
        deadline = time.monotonic() + 4  # idle rotation runs once a second past the age limit
        while "could not close" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        writer.submit(line(2)).result(timeout=10)  # before: never resolved
        writer.append(line(3))
    finally:
        writer.close()
    assert moved.read_bytes() == line(1)  # abandoned as it was: whole lines only
    assert stored(spool) == line(2) + line(3)  # in a new segment, closed at close()
    assert {path.suffix for path in spool.iterdir()} == {CLOSED_SUFFIX}
    [record] = [r for r in caplog.records if "could not close" in r.getMessage()]
    assert record.levelno == logging.ERROR and record.exc_info is None  # one line


def test_a_writer_failing_unexpectedly_answers_its_waiters_and_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a bug outside _write's own handling: the waiters get an OSError (the ingest route's
    # 503 "cannot be stored now ... retry later"), and the writer serves the next appends
    writer = SpoolWriter(tmp_path, segment_bytes=1 << 20)
    write = writer._write
    failures = [RuntimeError("a bug")]

    def failing_once(batch: list) -> None:  # type: ignore[type-arg]
        if failures:
            raise failures.pop()
        write(batch)

    writer._write = failing_once  # type: ignore[method-assign]
    try:
        with pytest.raises(OSError) as refused:
            writer.submit(line(1)).result(timeout=10)  # before: never resolved
        assert refused.value.strerror and "spool writer failed" in refused.value.strerror
        writer.submit(line(2)).result(timeout=10)
    finally:
        writer.close()
    assert stored(tmp_path) == line(2)
    assert "spool writer failed" in caplog.text


def test_a_failed_rename_never_touches_a_file_that_reused_the_segment_fd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # closing a full segment closed its fd, then renamed it; when the rename failed, the writer
    # truncated and closed that fd number again, which by then could be another file's (the
    # kernel hands out the lowest free number: here the victim, opened by the rename itself)
    spool = tmp_path / "spool"
    victim_path = tmp_path / "victim"
    victim_path.write_bytes(b"v" * 1_000_000)
    victim: list[int] = []
    replace = os.replace

    def refusing_once(source: Path, target: Path) -> None:
        if victim:
            replace(source, target)
            return
        victim.append(os.open(victim_path, os.O_RDWR))
        raise PermissionError(13, "Permission denied", str(source))

    writer = SpoolWriter(spool, segment_bytes=len(line(1)))
    try:
        writer.append(line(1))
        monkeypatch.setattr(spool_module.os, "replace", refusing_once)
        with pytest.raises(PermissionError):
            writer.append(line(2))  # the full segment's close fails: this append is refused
        monkeypatch.undo()
        writer.append(line(3))
    finally:
        writer.close()
    [fd] = victim
    try:
        assert victim_path.stat().st_size == 1_000_000  # before: cut to the segment's size
        assert os.fstat(fd).st_size == 1_000_000  # and still open
    finally:
        os.close(fd)  # before: EBADF, the writer had closed it
    assert stored(spool) == line(1) + line(3)
