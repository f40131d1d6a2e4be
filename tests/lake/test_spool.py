"""Tests for the spool (``lake.spool``): segment files, group commit, rotation, sealing, reading.

Everything runs on real files in ``tmp_path`` and real threads; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pullstats.lake.spool import (
    CLOSED_SUFFIX,
    OPEN_SUFFIX,
    SegmentSlice,
    SpoolWriter,
    read_new_lines,
    seal_orphans,
)
from tests.lake.spool_owners import held, writer_elsewhere, writer_here

#: Above Linux's largest possible pid_max (2**22), so no process can have it.
DEAD_PID = 2**22 + 12345


def line(n: int, width: int = 0) -> bytes:
    return b'{"id":"%06d","pad":"%s"}\n' % (n, b"x" * width)


def suffixes(folder: Path) -> list[str]:
    return sorted(path.suffix for path in folder.iterdir())


def read_all(folder: Path, progress: dict[str, int], max_bytes: int = 1 << 30) -> bytes:
    """Everything new, by repeated calls (as a compaction loop does); advances ``progress``."""
    data = b""
    while slices := read_new_lines(folder, progress, max_bytes=max_bytes):
        for piece in slices:
            assert piece.start == progress.get(piece.name, 0)
            progress[piece.name] = piece.end
            data += piece.data
    return data


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


def test_dead_pid_is_really_dead() -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(DEAD_PID, 0)


# --- writing and reading --------------------------------------------------------------------


def test_appended_lines_are_readable_with_offsets(spool: Path) -> None:
    writer = SpoolWriter(spool, segment_bytes=1 << 20)
    try:
        writer.append(line(1) + line(2))
        progress: dict[str, int] = {}
        [first] = read_new_lines(spool, progress)
        assert isinstance(first, SegmentSlice)
        assert first.data == line(1) + line(2)
        assert (first.start, first.end) == (0, len(first.data))
        assert not first.closed
        assert (spool / f"{first.name}{OPEN_SUFFIX}").exists()

        progress[first.name] = first.end
        assert read_new_lines(spool, progress) == []

        writer.append(line(3))
        [second] = read_new_lines(spool, progress)
        assert second.name == first.name
        assert second.data == line(3)
        assert (second.start, second.end) == (first.end, first.end + len(line(3)))
    finally:
        writer.close()


def test_a_failed_write_leaves_only_the_lines_written_whole(spool: Path) -> None:
    # a write the file system refuses half-way (a full disk; here the file size limit, in a
    # child process): it left a torn last line in the closed segment, which compaction never
    # reads to its end, so retention never deleted it (and its raw IPs), and every failed
    # write after it an empty segment
    limit = 100
    script = f"""
import resource, signal
from pathlib import Path
from pullstats.lake.spool import SpoolWriter
def line(n, width=0):  # as line() here
    return b'{{"id":"%06d","pad":"%s"}}\\n' % (n, b"x" * width)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
writer = SpoolWriter(Path({str(spool)!r}), segment_bytes=1 << 20)
writer.append(line(1))
for n in (2, 3):
    try:
        writer.append(line(n, width={limit}))
    except OSError as error:
        print("refused", error.errno)
writer.close()
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [f"refused {errno.EFBIG}"] * 2
    [segment] = spool.iterdir()  # the second write's new segment held nothing: gone
    assert segment.suffix == CLOSED_SUFFIX
    assert segment.read_bytes() == line(1)


def test_segment_name_holds_the_writer_pid(spool: Path) -> None:
    writer = SpoolWriter(spool, segment_bytes=1 << 20)
    writer.append(line(1))
    [segment] = spool.iterdir()
    created, pid, seq = segment.stem.split("-")
    assert (len(created), int(pid), int(seq)) == (16, os.getpid(), 1)
    writer.close()


def test_append_async(spool: Path) -> None:
    writer = SpoolWriter(spool, segment_bytes=1 << 20)

    async def main() -> None:
        await asyncio.gather(*(writer.append_async(line(n)) for n in range(20)))

    asyncio.run(main())
    writer.close()
    assert sorted(read_all(spool, {}).splitlines(keepends=True)) == [line(n) for n in range(20)]


def test_group_commit_from_several_threads(spool: Path) -> None:
    writer = SpoolWriter(spool, segment_bytes=1 << 30)
    threads, per_thread = 8, 250
    futures: list[concurrent.futures.Future[None]] = []
    futures_lock = threading.Lock()
    start = threading.Barrier(threads)

    def submit_many(thread: int) -> None:
        start.wait()
        mine = [writer.submit(line(thread * per_thread + n)) for n in range(per_thread)]
        with futures_lock:
            futures.extend(mine)

    workers = [threading.Thread(target=submit_many, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done, not_done = concurrent.futures.wait(futures, timeout=60)
    assert not not_done
    assert all(future.exception() is None for future in done)
    submits = threads * per_thread
    assert len(futures) == submits
    assert 1 <= writer.fsyncs < submits
    writer.close()

    lines = read_all(spool, {}).splitlines(keepends=True)
    assert sorted(lines) == [line(n) for n in range(submits)]  # each exactly once


def test_append_returns_only_after_the_data_is_in_the_file(spool: Path) -> None:
    writer = SpoolWriter(spool, segment_bytes=1 << 20)
    for n in range(5):
        writer.append(line(n))
        [segment] = spool.iterdir()
        assert segment.read_bytes().endswith(line(n))
    assert writer.fsyncs == 5
    writer.close()


def test_rotation_by_segment_bytes(spool: Path) -> None:
    record = line(0, width=40)
    writer = SpoolWriter(spool, segment_bytes=2 * len(record))
    try:
        for n in range(7):
            writer.append(line(n, width=40))
        closed = sorted(spool.glob(f"*{CLOSED_SUFFIX}"))
        still_open = list(spool.glob(f"*{OPEN_SUFFIX}"))
        # a segment takes appends until it holds segment_bytes: 2 + 2 + 2 closed, 1 open
        assert len(closed) == 3
        assert len(still_open) == 1
        assert all(path.stat().st_size == 2 * len(record) for path in closed)
        seqs = [int(path.stem.split("-")[2]) for path in [*closed, *still_open]]
        assert seqs == [1, 2, 3, 4]
    finally:
        writer.close()
    assert read_all(spool, {}) == b"".join(line(n, width=40) for n in range(7))


def test_close_leaves_only_closed_segments(spool: Path) -> None:
    writer = SpoolWriter(spool, segment_bytes=100)
    for n in range(10):
        writer.append(line(n))
    writer.close()
    assert suffixes(spool) and set(suffixes(spool)) == {CLOSED_SUFFIX}
    slices = read_new_lines(spool, {})
    assert all(piece.closed for piece in slices)
    assert b"".join(piece.data for piece in slices) == b"".join(line(n) for n in range(10))


def test_close_without_writes_leaves_nothing(spool: Path) -> None:
    SpoolWriter(spool, segment_bytes=100).close()
    assert list(spool.iterdir()) == []


def test_submit_after_close_is_refused(spool: Path) -> None:
    writer = SpoolWriter(spool, segment_bytes=100)
    writer.close()
    with pytest.raises(RuntimeError):
        writer.submit(line(1))


def test_reader_follows_a_segment_closed_after_it_was_read(spool: Path) -> None:
    writer = SpoolWriter(spool, segment_bytes=1 << 20)
    writer.append(line(1))
    progress: dict[str, int] = {}
    [piece] = read_new_lines(spool, progress)
    progress[piece.name] = piece.end
    writer.append(line(2))
    writer.close()
    [rest] = read_new_lines(spool, progress)
    assert (rest.name, rest.data, rest.closed) == (piece.name, line(2), True)


# --- sealing orphans ------------------------------------------------------------------------


def orphan(folder: Path, data: bytes, pid: int = DEAD_PID, seq: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"1767225600000000-{pid}-{seq:06d}{OPEN_SUFFIX}"
    path.write_bytes(data)
    return path


def test_seal_orphans_truncates_a_torn_line_and_closes(spool: Path) -> None:
    path = orphan(spool, line(1) + line(2) + b'{"id":"0000')
    sealed = seal_orphans(spool)
    closed = path.with_suffix(CLOSED_SUFFIX)
    assert sealed == [closed]
    assert not path.exists()
    assert closed.read_bytes() == line(1) + line(2)


def test_seal_orphans_keeps_a_whole_segment_as_it_is(spool: Path) -> None:
    path = orphan(spool, line(1))
    assert seal_orphans(spool) == [path.with_suffix(CLOSED_SUFFIX)]
    assert path.with_suffix(CLOSED_SUFFIX).read_bytes() == line(1)


def test_seal_orphans_of_only_a_torn_line_leaves_an_empty_segment(spool: Path) -> None:
    path = orphan(spool, b'{"id":"00')
    seal_orphans(spool)
    assert path.with_suffix(CLOSED_SUFFIX).read_bytes() == b""


@pytest.mark.parametrize("where", ["own", "other"])
def test_seal_orphans_leaves_segments_of_live_processes(spool: Path, where: str) -> None:
    # a live writer's segment, even with a torn last line (one being written), is never sealed:
    # of a writer in this process (another open of the file cannot take its lock) or another
    with contextlib.ExitStack() as live:
        if where == "own":
            path = live.enter_context(writer_here(spool, line(1)))
        else:
            path, _ = live.enter_context(writer_elsewhere(spool, line(1)))
        with open(path, "ab") as handle:
            handle.write(b"torn")
        assert seal_orphans(spool) == []
        assert path.read_bytes() == line(1) + b"torn"


def test_new_writer_seals_orphans(spool: Path) -> None:
    path = orphan(spool, line(1) + b"torn")
    writer = SpoolWriter(spool, segment_bytes=1 << 20)
    writer.close()
    assert path.with_suffix(CLOSED_SUFFIX).read_bytes() == line(1)


def test_reader_seals_orphans_and_never_returns_the_torn_line(spool: Path) -> None:
    path = orphan(spool, line(1) + line(2) + b'{"id":"0000')
    [piece] = read_new_lines(spool, {})
    assert piece.data == line(1) + line(2)
    assert piece.closed
    assert piece.name == path.stem


# --- reading --------------------------------------------------------------------------------


def test_read_never_returns_a_partial_line(spool: Path) -> None:
    path = orphan(spool, line(1) + b'{"id":"half', pid=os.getpid())
    progress: dict[str, int] = {}
    with held(path):  # by its live writer
        [piece] = read_new_lines(spool, progress)
        assert piece.data == line(1)
        assert piece.end == len(line(1))
        assert not piece.closed
        progress[piece.name] = piece.end
        assert read_new_lines(spool, progress) == []

        with open(path, "ab") as handle:  # the writer finishes the line
            handle.write(b'"}\n')
        [rest] = read_new_lines(spool, progress)
    assert rest.data == b'{"id":"half"}\n'
    assert rest.start == len(line(1))


def test_read_skips_other_files(spool: Path) -> None:
    orphan(spool, line(1), pid=os.getpid())
    (spool / "notes.txt").write_text("not a segment\n")
    (spool / "progress.json.tmp").write_text("{}\n")
    [piece] = read_new_lines(spool, {})
    assert piece.data == line(1)


def test_read_is_oldest_segment_first(spool: Path) -> None:
    for seq in (3, 1, 2):
        path = spool / f"17672256000000{seq:02d}-{DEAD_PID}-{seq:06d}{CLOSED_SUFFIX}"
        spool.mkdir(exist_ok=True)
        path.write_bytes(line(seq))
    assert [piece.data for piece in read_new_lines(spool, {})] == [line(1), line(2), line(3)]


def test_read_respects_max_bytes(spool: Path) -> None:
    spool.mkdir()
    segments = 4
    per_segment = 300_000
    for seq in range(1, segments + 1):
        name = f"17672256000000{seq:02d}-{DEAD_PID}-{seq:06d}{CLOSED_SUFFIX}"
        (spool / name).write_bytes(line(seq, width=per_segment))

    size = len(line(1, width=per_segment))
    progress: dict[str, int] = {}
    # Below one segment: at least one slice is returned, then it stops.
    assert len(read_new_lines(spool, progress, max_bytes=10)) == 1
    # Stops adding segments once max_bytes are gathered.
    slices = read_new_lines(spool, progress, max_bytes=2 * size)
    assert [piece.data for piece in slices] == [line(1, width=per_segment), line(2, per_segment)]
    # Looping with the offsets reads everything exactly once.
    assert read_all(spool, progress, max_bytes=size) == b"".join(
        line(seq, width=per_segment) for seq in range(1, segments + 1)
    )
    assert read_new_lines(spool, progress) == []


def test_read_of_a_large_segment_ends_at_a_line_boundary(spool: Path) -> None:
    # The first read of a segment is at least 1 MiB; a longer segment is returned in pieces,
    # each ending at a newline, that join back into the whole file.
    data = b"".join(line(n, width=1000) for n in range(3000))  # about 3 MB
    orphan(spool, data, pid=os.getpid())
    progress: dict[str, int] = {}
    pieces = []
    while slices := read_new_lines(spool, progress, max_bytes=1 << 20):
        [piece] = slices
        assert piece.data.endswith(b"\n")
        assert piece.end - piece.start == len(piece.data) <= 1 << 20
        pieces.append(piece.data)
        progress[piece.name] = piece.end
    assert len(pieces) >= 3
    assert b"".join(pieces) == data


def test_segments_rotate_by_age_even_under_steady_load(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, segment_bytes=1 << 30, segment_seconds=0.2)
    try:
        writer.append(b'{"n":1}\n')
        time.sleep(0.3)  # older than segment_seconds, and the next write comes at once
        writer.append(b'{"n":2}\n')
        closed = sorted(tmp_path.glob("*.seg"))
        assert len(closed) == 1
        assert closed[0].read_bytes() == b'{"n":1}\n'
    finally:
        writer.close()
