"""The operator's batch jobs on the command line: what ``status`` says is waiting, what a job
waiting for the job lock says, and a data dir that does not exist."""

from __future__ import annotations

from pathlib import Path

from pullstats.lake.spool import SpoolWriter
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, run_cli, write_spool_lines


def _spool_line(status: str) -> str:
    [line] = [text for text in status.splitlines() if text.startswith("events waiting in")]
    return line


def test_status_counts_the_spool_segments_process_has_not_compacted(tmp_path: Path) -> None:
    """Events accepted over HTTP wait in the spool until ``process`` compacts them: ``days
    waiting for process`` counts only the days compacted since, so status says both. Counted
    from the files' sizes and the offsets compaction recorded: no line is read (these are not
    even records; ``process`` sets them aside)."""
    data = tmp_path / "data"
    runtime = Runtime.open(catalog_settings(data))
    writer = SpoolWriter(runtime.paths.spool, segment_bytes=1 << 20)
    try:
        write_spool_lines(runtime, b"not json\n" * 3)  # a closed segment: 27 bytes
        writer.append(b"still open\n")  # the open segment of a live server: 11 bytes
        status = run_cli(data, "status")
        assert status.returncode == 0, status.stderr
        assert "days waiting for process: 0" in status.stdout.splitlines()
        assert _spool_line(status.stdout) == "events waiting in the spool: 2 segments, 38 bytes"
        processed = run_cli(data, "process")
        assert processed.returncode == 0, processed.stderr
        assert processed.stdout.startswith("processed 4 spool lines")
        status = run_cli(data, "status")
        assert status.returncode == 0, status.stderr
        assert _spool_line(status.stdout) == "events waiting in the spool: 0 segments, 0 bytes"
        writer.append(b"x" * 1_200_000 + b"\n")  # a new segment past the first's 1 MiB
        status = run_cli(data, "status")
        assert _spool_line(status.stdout) == (
            "events waiting in the spool: 1 segment, 1200001 bytes (1.2 MB)"
        )
    finally:
        writer.close()
        runtime.close()
