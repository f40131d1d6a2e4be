"""Whose a spool segment is: its writer's lock says, never the pid in its name.

The pid misled both ways. Seen from another PID namespace (``process`` in a jobs container
sharing the data dir) a live server's pid looked dead: its segment was cut and renamed under
its writer, and events already answered 200 were lost. And a server with a dead one's pid (PID 1
in a container) took the dead one's segment for its own: never sealed, never pruned, its raw
IPs kept past the spool retention. Renaming a segment stands in for the other namespace here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pullstats.lake import spool as spool_module
from pullstats.lake.spool import (
    CLOSED_SUFFIX,
    OPEN_SUFFIX,
    SpoolWriter,
    read_new_lines,
    seal_orphans,
)
from tests.lake.spool_owners import writer_elsewhere, writer_here
from tests.lake.test_spool import DEAD_PID, line, orphan


def named_for(segment: Path, pid: int) -> Path:
    """``segment`` renamed to carry ``pid`` instead of its writer's."""
    created, _, seq = segment.stem.split("-")
    return segment.rename(segment.with_name(f"{created}-{pid}-{seq}{segment.suffix}"))


@pytest.mark.parametrize(
    "pid", [os.getpid(), os.getppid(), DEAD_PID], ids=["own", "live other", "dead"]
)
def test_a_segment_no_writer_holds_is_sealed_whatever_pid_it_names(
    tmp_path: Path, pid: int
) -> None:
    # "own": a server that reuses a dead server's pid (PID 1 in a container) left that one's
    # segment unsealed for ever, and so its raw IPs past the spool retention
    path = orphan(tmp_path, line(1) + b"torn", pid=pid)
    assert seal_orphans(tmp_path) == [path.with_suffix(CLOSED_SUFFIX)]
    assert path.with_suffix(CLOSED_SUFFIX).read_bytes() == line(1)


def test_a_new_writer_seals_a_segment_that_names_its_own_pid(tmp_path: Path) -> None:
    path = orphan(tmp_path, line(1) + b"torn", pid=os.getpid())
    SpoolWriter(tmp_path, segment_bytes=1 << 20).close()
    assert not path.exists()
    assert path.with_suffix(CLOSED_SUFFIX).read_bytes() == line(1)


def test_a_live_writers_segment_is_not_sealed_whatever_pid_it_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the writer's pid as a reader in another PID namespace sees it: no such process there
    with writer_here(tmp_path, line(1)) as segment:
        path = named_for(segment, DEAD_PID)
        with open(path, "ab") as handle:  # as if a line were being written
            handle.write(b"torn")
        assert seal_orphans(tmp_path) == []  # before: cut and renamed under its writer
        [piece] = read_new_lines(tmp_path, {})
        assert (piece.data, piece.closed) == (line(1), False)
        assert path.read_bytes() == line(1) + b"torn"
    # once closed (it cannot rename what it no longer finds: it abandons it, cut to what it
    # wrote whole) the segment is no one's: the next reader seals it
    assert "could not close segment" in caplog.text
    assert seal_orphans(tmp_path) == [path.with_suffix(CLOSED_SUFFIX)]
    assert path.with_suffix(CLOSED_SUFFIX).read_bytes() == line(1)


def test_a_killed_writers_segment_is_sealed_once_it_is_gone(tmp_path: Path) -> None:
    # the kernel lets go of a dead process's lock: a kill -9 leaves no segment unsealable
    with writer_elsewhere(tmp_path, line(1)) as (segment, child):
        path = named_for(segment, os.getpid())  # a pid alive, and the sealer's own
        with open(path, "ab") as handle:
            handle.write(b"torn")
        assert seal_orphans(tmp_path) == []
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert seal_orphans(tmp_path) == [path.with_suffix(CLOSED_SUFFIX)]
    assert path.with_suffix(CLOSED_SUFFIX).read_bytes() == line(1)


def test_a_new_segment_sealed_before_its_writer_locked_it_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a reader can find a segment between its creation and its lock, take the lock and seal it
    # (empty): the writer must not append to what is now closed, but to a segment of its own
    spool = tmp_path / "spool"
    real_open = os.open
    raced: list[str] = []

    def open_then_seal(path: str | Path, flags: int, mode: int = 0o777) -> int:
        fd = real_open(path, flags, mode)
        if str(path).endswith(OPEN_SUFFIX) and not raced:
            raced.append(str(path))
            assert seal_orphans(spool) == [Path(path).with_suffix(CLOSED_SUFFIX)]
        return fd

    writer = SpoolWriter(spool, segment_bytes=1 << 20)
    try:
        monkeypatch.setattr(spool_module.os, "open", open_then_seal)
        writer.append(line(1))
        monkeypatch.undo()
        [live] = spool.glob(f"*{OPEN_SUFFIX}")
        assert live.read_bytes() == line(1)
        assert seal_orphans(spool) == []
    finally:
        writer.close()
    [first] = raced
    assert Path(first).with_suffix(CLOSED_SUFFIX).read_bytes() == b""
    assert b"".join(piece.data for piece in read_new_lines(spool, {})) == line(1)


def test_a_reader_in_another_pid_namespace_leaves_a_live_writers_segment(tmp_path: Path) -> None:
    # the case itself, where the machine lets a test make a PID namespace (root, util-linux):
    # seal_orphans run as PID 1 of a namespace of its own, where the writer's pid is no one's
    reader = "import sys; from pathlib import Path; from pullstats.lake.spool import seal_orphans"
    unshare = ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c"]
    try:
        probe = subprocess.run(
            [*unshare, "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60
        )
    except FileNotFoundError:
        pytest.skip("no unshare here")
    if probe.returncode != 0 or probe.stdout.strip() != "1":
        pytest.skip(f"no PID namespace can be made here: {probe.stderr.strip()[:200]}")
    with writer_here(tmp_path, line(1)) as segment:
        with open(segment, "ab") as handle:
            handle.write(b"torn")
        sealed = subprocess.run(
            [*unshare, f"{reader}; print(seal_orphans(Path(sys.argv[1])))", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sealed.returncode == 0, sealed.stderr
        assert sealed.stdout.strip() == "[]"  # before: cut and renamed under its writer
        assert segment.read_bytes() == line(1) + b"torn"
