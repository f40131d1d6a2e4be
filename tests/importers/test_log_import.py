"""Tests for `pullstats ingest logs` (importers.log_import): files, gzip and stdin through the real
command line, re-imports, the overlap guard against notifications, one-line errors, and an
import in many segments and flushes."""

from __future__ import annotations

import gzip
import hashlib
import lzma
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pullstats.importers import log_import
from pullstats.importers.log_import import import_logs
from pullstats.ingest import log_lines
from pullstats.ingest.records import PullRequestRecord
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import catalog_settings, run_cli, write_spool
from tests.duckdb_cursor import duckdb_cursor
from tests.ingest.access_log_parsing import LOGS, D

# --- the command line, end to end ---------------------------------------------------------------


def actions(data_dir: Path) -> list[tuple[object, ...]]:
    glob = data_dir / "lake" / "actions" / "day=*" / "*.parquet"
    with duckdb_cursor() as connection:
        return connection.execute(
            f"""
            SELECT namespace, repository, action, reference, digest, http_method
            FROM read_parquet('{glob}', hive_partitioning = false)
            ORDER BY timestamp, repository, action
            """
        ).fetchall()


def lake_requests(data_dir: Path) -> list[tuple[object, ...]]:
    glob = data_dir / "lake" / "requests" / "day=*" / "*.parquet"
    with duckdb_cursor() as connection:
        return connection.execute(
            f"""
            SELECT source, count(*), count(DISTINCT id)
            FROM read_parquet('{glob}', hive_partitioning = false) GROUP BY source ORDER BY 1
            """
        ).fetchall()


def test_cli_imports_files_then_process_makes_actions(data_dir: Path) -> None:
    result = run_cli(
        data_dir, "ingest", "logs", str(LOGS / "registry-access.log"),
        str(LOGS / "nginx-combined.log"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"{LOGS / 'registry-access.log'}: 8 lines read, 4 used, 4 skipped "
        "(blob_request 1, non_2xx 1, not_manifest 1, unparseable 1)"
    )
    # bad lines by number, never their text (a log line may hold a token)
    assert f"{LOGS / 'registry-access.log'}: unparseable at line 7" in lines
    assert f"{LOGS / 'nginx-combined.log'}: invalid_name at line 10" in lines
    assert f"{LOGS / 'nginx-combined.log'}: unparseable at lines 12, 13, 14" in lines
    assert "time=" not in result.stdout and "192.0.2.44" not in result.stdout
    assert lines[-1] == (  # every line is of 5 October: one day, named once
        "imported 8 requests from 2 file(s): 8 new, 0 already in the lake on 1 day (2026-10-05); "
        "run `pullstats process` to classify them"
    )
    processed = run_cli(data_dir, "process")
    assert processed.returncode == 0, processed.stderr
    # the day imported and the day after it (an action may span midnight): one week, one month
    assert "; 6 actions on 2 days; 2 periods rolled up" in processed.stdout
    assert actions(data_dir) == [
        # HEAD 3.20 (digest not logged) + GET by digest in the same second: one pull
        ("library", "alpine", "pull_by_tag", "3.20", D, "GET"),
        ("library", "alpine", "pull_by_tag", "3.20", "", "GET"),
        ("library", "alpine", "pull_by_tag", "3.20", "", "GET"),  # 3 s later: another pull
        # HEAD 1.0 at 12:44:26Z, GET by digest at 12:44:27Z
        ("acme", "web/app", "pull_by_tag", "1.0", D, "GET"),
        # two identical lines: two CI jobs behind one address
        ("library", "nginx", "pull_by_tag", "latest", "", "GET"),
        ("library", "nginx", "pull_by_tag", "latest", "", "GET"),
    ]


def test_cli_reads_stdin_and_reimport_is_a_no_op(data_dir: Path) -> None:
    text = (LOGS / "nginx-pullstats.log").read_text()
    first = run_cli(data_dir, "ingest", "logs", "-", stdin=text)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == (
        "stdin: 11 lines read, 4 used, 7 skipped (blank 1, blob_request 1, delete 1, "
        "invalid_address 1, invalid_digest 1, method 1, unparseable 1)"
    )
    assert run_cli(data_dir, "process").returncode == 0
    assert actions(data_dir) == [
        ("acme", "web/app", "pull_by_tag", "1.0", D, "GET"),
        ("acme", "web/app", "version_check", "latest", D, "HEAD"),
    ]
    assert lake_requests(data_dir) == [("log", 4, 4)]
    # the same lines again, from the gzip file this time: nothing new
    again = run_cli(data_dir, "ingest", "logs", str(LOGS / "nginx-pullstats.log.gz"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == (
        "imported 4 requests from 1 file(s): 0 new, 4 already in the lake"
    )
    assert lake_requests(data_dir) == [("log", 4, 4)]
    # nor from a copy whose lines end in CRLF (unix2dos, a log that went through Windows)
    crlf = data_dir.parent / "crlf.log"
    crlf.write_bytes(text.replace("\n", "\r\n").encode())
    again = run_cli(data_dir, "ingest", "logs", str(crlf))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == (
        "imported 4 requests from 1 file(s): 0 new, 4 already in the lake"
    )
    assert lake_requests(data_dir) == [("log", 4, 4)]
    # the ids are those of the lines as written with a Unix end: a lake's earlier ids stay
    line = next(ln for ln in text.splitlines() if "/v2/acme/web/app/manifests/1.0 " in ln)
    digest = hashlib.md5((line + "\n").encode()).hexdigest()
    assert f"log-{digest}-1" in lake_ids(data_dir)


def lake_ids(data_dir: Path) -> set[str]:
    glob = data_dir / "lake" / "requests" / "day=*" / "*.parquet"
    with duckdb_cursor() as connection:
        rows = connection.execute(f"SELECT id FROM read_parquet('{glob}')").fetchall()
    return {id for (id,) in rows}


def notification(instant: datetime, event_id: str = "0c8a3b0e") -> PullRequestRecord:
    return PullRequestRecord(
        event_id, micros(instant), "GET", "acme/web/app", "1.0",
        D, "198.51.100.9", "docker/27.3.1", "notification", now_micros(),
    )  # fmt: skip


def test_overlap_with_notifications_is_refused_unless_allowed(
    data_dir: Path, runtime: Runtime
) -> None:
    # a notification in the hour 12:00Z of the pullstats log, another on a day it does not cover
    write_spool(
        runtime,
        notification(datetime(2026, 10, 5, 12, 30, tzinfo=UTC)),
        notification(datetime(2026, 10, 9, 8, 0, tzinfo=UTC), "5b8e4d47"),
    )
    assert run_cli(data_dir, "process").returncode == 0
    refused = run_cli(
        data_dir, "ingest", "logs", str(LOGS / "nginx-combined.log"),
        str(LOGS / "nginx-pullstats.log"),
    )  # fmt: skip
    assert refused.returncode == 1
    assert "2026-10-05T12:00Z" in refused.stderr
    assert "--allow-overlap" in refused.stderr
    assert "registry-notification" in refused.stderr
    assert lake_requests(data_dir) == [("notification", 2, 2)]  # nothing written
    # an hour without notifications goes in
    later = (LOGS / "nginx-combined.log").read_text().splitlines()[4]
    later = later.replace("05/Oct/2026:14:50:01 +0200", "05/Oct/2026:13:00:00 +0000")
    alone = run_cli(data_dir, "ingest", "logs", "-", stdin=later + "\n")
    assert alone.returncode == 0, alone.stderr
    allowed = run_cli(
        data_dir, "ingest", "logs", "--allow-overlap", str(LOGS / "nginx-pullstats.log")
    )
    assert allowed.returncode == 0, allowed.stderr
    assert lake_requests(data_dir) == [("log", 5, 5), ("notification", 2, 2)]


def test_overlap_is_checked_for_stdin_too(data_dir: Path, runtime: Runtime) -> None:
    write_spool(runtime, notification(datetime(2026, 10, 5, 12, 59, 59, tzinfo=UTC)))
    assert run_cli(data_dir, "process").returncode == 0
    text = (LOGS / "nginx-pullstats.log").read_text()
    refused = run_cli(data_dir, "ingest", "logs", "-", stdin=text)
    assert refused.returncode == 1 and "2026-10-05T12:00Z" in refused.stderr
    assert lake_requests(data_dir) == [("notification", 1, 1)]


def test_cli_errors_are_one_line(data_dir: Path, tmp_path: Path) -> None:
    missing = run_cli(data_dir, "ingest", "logs", str(tmp_path / "nope.log"))
    assert missing.returncode == 1 and "nope.log: no such file" in missing.stderr
    bad_format = run_cli(data_dir, "ingest", "logs", "--format", "json", "-", stdin="")
    assert bad_format.returncode == 2 and "--format must be one of" in bad_format.stderr
    nameless = run_cli(data_dir, "ingest", "logs", "")
    assert nameless.returncode == 1
    assert "error: an empty file name: name a log file, or - for stdin" in nameless.stderr
    # the pullstats format's lines read as the combined format: the message names the option
    other = run_cli(
        data_dir, "ingest", "logs", "--format", "combined", str(LOGS / "nginx-pullstats.log")
    )
    assert (
        other.returncode == 1
        and ("no line is in the combined format that --format asked for (--format auto reads both")
        in other.stderr
    )
    damaged = tmp_path / "damaged.log.gz"
    damaged.write_bytes((LOGS / "nginx-pullstats.log.gz").read_bytes()[:60])
    cut = run_cli(data_dir, "ingest", "logs", str(damaged))
    assert cut.returncode == 1 and "damaged.log.gz:" in cut.stderr
    garbage = tmp_path / "app.log"
    garbage.write_text("level=info msg=started\nlevel=info msg=ready\n")
    wrong = run_cli(data_dir, "ingest", "logs", str(garbage))
    assert wrong.returncode == 1
    assert "app.log: not an access log: no line is in the combined or pullstats format" in (
        wrong.stderr
    )


@pytest.mark.slow
def test_import_in_segments_and_flushes_counts_every_line_once(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # many small queries and many small writes give what one of each gives
    log = tmp_path / "big.log.gz"
    text = (LOGS / "nginx-pullstats.log").read_bytes() + (LOGS / "nginx-combined.log").read_bytes()
    with gzip.open(log, "wb") as handle:
        for day in range(20):
            handle.write(text.replace(b"05/Oct/2026", b"%02d/Oct/2026" % (day + 1)))
    with monkeypatch.context() as patched:
        patched.setattr(log_import, "SEGMENT_BYTES", 2000)
        patched.setattr(log_lines, "BLOCK_BYTES", 700)
        split = import_logs(runtime, [str(log)])
    assert split.written == split.used == 20 * 8
    files = list(runtime.paths.requests.glob("day=*/part-*.parquet"))
    assert len(files) > 10  # written in many segments
    whole = import_logs(runtime, [str(log), str(LOGS / "nginx-combined.log")])
    assert whole.sources[0].lines == split.sources[0].lines
    assert whole.sources[0].skipped == split.sources[0].skipped
    assert whole.sources[0].errors == split.sources[0].errors
    assert whole.written == 0 and whole.used == split.used + 4
    assert lake_requests(runtime.paths.root) == [("log", split.used, split.used)]


@pytest.mark.slow
@pytest.mark.parametrize("hold", [log_import.HOLD_REQUESTS, 5])  # held, or read twice
def test_files_the_overlap_guard_lets_in_are_written_whole(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hold: int
) -> None:
    # a notification on a day the logs do not cover: the guard is on, and lets them in
    write_spool(runtime, notification(datetime(2026, 11, 9, 8, 0, tzinfo=UTC)))
    process(runtime)
    log = tmp_path / "days.log"
    text = (LOGS / "nginx-pullstats.log").read_bytes()
    log.write_bytes(b"".join(text.replace(b"05/Oct/2026", b"%02d/Oct/2026" % d) for d in (1, 2)))
    logs = [str(log), str(LOGS / "nginx-combined.log")]
    with monkeypatch.context() as patched:  # many segments: requests held from each of them
        patched.setattr(log_import, "SEGMENT_BYTES", 2000)
        patched.setattr(log_lines, "BLOCK_BYTES", 700)
        patched.setattr(log_import, "HOLD_REQUESTS", hold)
        guarded = import_logs(runtime, logs)
    assert [source.used for source in guarded.sources] == [2 * 4, 4]
    assert guarded.written == guarded.used
    # the same requests, ids included, and the same report as an import that does not check
    other = Runtime.open(catalog_settings(tmp_path / "unchecked"))
    try:
        unchecked = import_logs(other, logs, allow_overlap=True)
        assert unchecked.sources == guarded.sources
        assert unchecked.written == guarded.written
        assert log_ids(other) == log_ids(runtime)
    finally:
        other.close()


def log_ids(runtime: Runtime) -> list[str]:
    glob = runtime.paths.requests / "day=*" / "*.parquet"
    with duckdb_cursor() as connection:
        rows = connection.execute(
            f"SELECT id FROM read_parquet('{glob}') WHERE source = 'log' ORDER BY id"
        ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("old.log.zst", b"\x28\xb5\x2f\xfd" + b"\x00" * 64, "zstd-compressed, which pullstats"),
        ("cut.log.xz", lzma.compress(b"x" * 4096)[:40], "cut short: the compressed data stops"),
        (
            "bad.log.bz2",
            b"BZh9 not bzip2 at all\n",
            "damaged compressed data (Invalid data stream)",
        ),
    ],
)
def test_a_log_pullstats_cannot_read_is_named_and_the_others_are_imported(
    runtime: Runtime, tmp_path: Path, name: str, content: bytes, error: str
) -> None:
    log = tmp_path / name
    log.write_bytes(content)
    result = import_logs(runtime, [str(log), str(LOGS / "nginx-combined.log")])
    assert result.sources[0].failed.startswith(error)
    assert (result.sources[1].failed, result.sources[1].used) == ("", 4)
    assert result.written == 4


def test_a_gzip_log_cut_short_gives_its_lines_before_the_cut(
    runtime: Runtime, tmp_path: Path
) -> None:
    """A copy of a log still being compressed: its whole lines are imported, the cut one is
    unterminated, and importing the whole file later adds only the rest."""
    text = (LOGS / "nginx-pullstats.log").read_bytes()  # 11 lines, 4 requests
    whole = gzip.compress(text * 3)
    cut = tmp_path / "access.log.gz"
    cut.write_bytes(whole[:-30])  # the last few lines and the end marker missing
    first = import_logs(runtime, [str(cut), str(LOGS / "nginx-combined.log")])
    [source, other] = first.sources
    assert source.failed.startswith("cut short")
    assert 11 < source.lines < 33 and source.skipped["unterminated"] == 1
    assert other.used == 4 and not other.failed
    cut.write_bytes(whole)
    again = import_logs(runtime, [str(cut)])
    assert (again.sources[0].failed, again.sources[0].used) == ("", 12)
    assert first.written - 4 + again.written == 12  # each request once


def test_the_command_names_a_log_it_could_not_read_after_the_others(
    data_dir: Path, tmp_path: Path
) -> None:
    damaged = bytearray(gzip.compress((LOGS / "nginx-pullstats.log").read_bytes() * 400))
    for at in range(len(damaged) // 2, len(damaged) // 2 + 40):
        damaged[at] ^= 0x55
    log = tmp_path / "damaged.log.gz"
    log.write_bytes(bytes(damaged))
    result = run_cli(data_dir, "ingest", "logs", str(log), str(LOGS / "nginx-combined.log"))
    assert result.returncode == 1
    assert "imported " in result.stdout and "from 2 file(s)" in result.stdout
    [line] = [line for line in result.stderr.splitlines() if str(log) in line]
    # the flipped bytes break the deflate data or its CRC, whichever zlib meets first
    assert line.startswith(f"error: {log}: damaged compressed data (")
    assert "lines before that were read" in line
    assert "Traceback" not in result.stderr
