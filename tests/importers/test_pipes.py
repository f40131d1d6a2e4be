"""Pipes as sources of the import commands. For the logs, a shell's process substitution
(``<(zcat old.log.gz)``), a named pipe or ``/dev/stdin`` is read once as a stream, like ``-``:
its size unknown, and (while the lake holds notifications) checked by the overlap guard as it is
read, since it cannot be read twice. A Docker Hub CSV is read twice, so a pipe is refused with a
message that says so."""

from __future__ import annotations

import os
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pullstats.importers import log_import
from pullstats.importers.dockerhub_csv import import_files
from pullstats.importers.log_import import (
    LogImportError,
    OverlapRefused,
    check_sources,
    import_logs,
    is_stream,
)
from pullstats.importers.registry_log import import_registry_log
from pullstats.ingest import log_lines
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import run_cli, write_spool
from tests.importers.test_log_import import lake_requests, notification
from tests.ingest.access_log_parsing import LOGS


def fill_pipe(path: Path, data: bytes) -> threading.Thread:
    """A named pipe at ``path``, which a thread fills with ``data`` once a reader opens it."""
    os.mkfifo(path)

    def feed() -> None:
        try:
            with open(path, "wb") as handle:  # waits for the reader
                handle.write(data)
        except BrokenPipeError:  # the reader stopped early
            pass

    thread = threading.Thread(target=feed, name=f"fill {path.name}", daemon=True)
    thread.start()
    return thread


def test_a_pipe_is_imported_like_a_file(data_dir: Path, tmp_path: Path) -> None:
    pipe = tmp_path / "access.pipe"
    fill_pipe(pipe, (LOGS / "nginx-pullstats.log.gz").read_bytes())  # gzip, recognised too
    result = run_cli(data_dir, "ingest", "logs", str(pipe), str(LOGS / "nginx-combined.log"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # the fixture's 11 lines: 4 requests, 7 skipped (tests/ingest/test_access_logs.py)
    assert lines[0] == (
        f"{pipe}: 11 lines read, 4 used, 7 skipped (blank 1, blob_request 1, delete 1, "
        "invalid_address 1, invalid_digest 1, method 1, unparseable 1)"
    )
    assert lines[-1].startswith("imported 8 requests from 2 file(s): 8 new, 0 already in the lake")
    assert lake_requests(data_dir) == [("log", 8, 8)]


def test_a_pipe_is_checked_by_the_overlap_guard_as_it_is_read(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a notification in the hour 12:00Z of 5 October, the hour of the combined log's requests
    write_spool(runtime, notification(datetime(2026, 10, 5, 12, 30, tzinfo=UTC)))
    process(runtime)
    combined = (LOGS / "nginx-combined.log").read_bytes()
    # the same lines on 1 October first (no notifications then), then as they are
    data = combined.replace(b"05/Oct/2026", b"01/Oct/2026") + combined
    monkeypatch.setattr(log_import, "SEGMENT_BYTES", 2000)  # about one segment per copy
    monkeypatch.setattr(log_lines, "BLOCK_BYTES", 700)
    # a file: every hour is checked before anything is written
    file = tmp_path / "access.log"
    file.write_bytes(data)
    with pytest.raises(OverlapRefused) as refused:
        import_logs(runtime, [str(file)])
    assert "already written" not in str(refused.value)
    assert lake_requests(runtime.paths.root) == [("notification", 1, 1)]
    # a pipe cannot be read twice: what came before the overlapping hour is written
    pipe = tmp_path / "access.pipe"
    fill_pipe(pipe, data)
    with pytest.raises(OverlapRefused) as refused:
        import_logs(runtime, [str(pipe)])
    assert refused.value.hours == [int(datetime(2026, 10, 5, 12, tzinfo=UTC).timestamp()) // 3600]
    assert f"4 requests from earlier lines of {pipe} were already written" in str(refused.value)
    assert lake_requests(runtime.paths.root) == [("log", 4, 4), ("notification", 1, 1)]


def test_the_registry_log_through_a_pipe_is_read_as_the_file(
    runtime: Runtime, tmp_path: Path
) -> None:
    log = LOGS.parent / "registry" / "distribution-2.8.2-text.log"
    pipe = tmp_path / "registry.pipe"
    fill_pipe(pipe, log.read_bytes())
    [from_pipe] = import_registry_log(runtime, [str(pipe)]).sources
    [from_file] = import_registry_log(runtime, [str(log)]).sources
    assert from_pipe.name == str(pipe)
    assert from_pipe.lines == from_file.lines == len(log.read_bytes().splitlines())
    assert (from_pipe.responses, from_pipe.manifest_responses, from_pipe.refused) == (
        from_file.responses,
        from_file.manifest_responses,
        from_file.refused,
    )
    assert from_file.manifest_responses > 0


def test_what_is_a_stream_and_what_is_refused_before_anything_is_opened(tmp_path: Path) -> None:
    pipe = tmp_path / "p"
    os.mkfifo(pipe)  # no writer: opening it would wait for ever
    file = tmp_path / "f.log"
    file.write_text("")
    assert [is_stream(name) for name in ["-", str(pipe), "/dev/null", str(file)]] == [
        True,
        True,
        True,
        False,
    ]
    check_sources([str(pipe), "/dev/null", "-", str(file), str(file)])  # each stream once
    for sources, message in [
        ([str(pipe), str(pipe)], f"{pipe} is a stream and can be read only once"),
        (["-", "-"], "stdin (-) is a stream and can be read only once"),
        ([str(tmp_path / "missing.log")], "missing.log: no such file"),
        ([str(tmp_path)], "a directory; name the log files in it"),
    ]:
        with pytest.raises(LogImportError) as refused:
            check_sources(sources)
        assert message in str(refused.value)
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(tmp_path / "s"))
        with pytest.raises(LogImportError, match="s: neither a file nor a pipe"):
            check_sources([str(tmp_path / "s")])


def test_a_docker_hub_csv_through_a_pipe_is_refused_saying_why(
    runtime: Runtime, tmp_path: Path
) -> None:
    csv = LOGS.parent / "dockerhub" / "dvp-core_summary_weekly.csv"
    pipe = tmp_path / "summary.pipe"
    writer = fill_pipe(pipe, csv.read_bytes())
    piped, saved = import_files(runtime, [pipe, csv], namespace="acme")
    assert (piped.status, saved.status) == ("failed", "imported")
    assert piped.error.startswith("not a regular file (a pipe?): a Docker Hub CSV is read twice")
    assert piped.rows == 0 and saved.rows > 0
    # refused unopened: open and close the reading end, so the writer is let go
    os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK))
    writer.join(timeout=10)
    assert not writer.is_alive()


def test_ctrl_c_while_a_pipe_is_read_ends_the_command_without_a_traceback(
    data_dir: Path, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys

    from tests.conftest import cli_env, with_ctrl_c

    pipe = tmp_path / "slow.pipe"
    os.mkfifo(pipe)
    child = subprocess.Popen(
        [sys.executable, "-m", "pullstats", "ingest", "logs", str(pipe)],
        env=cli_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=with_ctrl_c,
    )
    try:
        with open(pipe, "wb") as writer:  # waits for the import to open it
            writer.write((LOGS / "nginx-pullstats.log").read_bytes())
            writer.flush()  # and the pipe stays open: the import waits for more
            child.send_signal(signal.SIGINT)
            _, stderr = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 130  # the shell's code for a command ended by Ctrl-C
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
