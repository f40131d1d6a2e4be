"""``pullstats hub download``, ``sync`` and ``query`` against a real pullstats server, signed in
from the environment (PULLSTATS_HUB_USERNAME/PASSWORD), with the seeded data of
tests/client/conftest.py worked by hand: in the seeded month acme/api is pulled once by tag,
once by digest and version-checked once; acme/tools/cli is pulled once by digest (3 pulls).
Each seeded period has four views of one part each, and a Summary report of one part (asked
for with ``--view summary-report``, never by default)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.client.conftest import Served
from tests.client.test_reports import lines, report_lines, seeded_week
from tests.conftest import run_cli

#: the package's ``served`` installation (conftest.py) is built once: on the worker that
#: runs every module using it
pytestmark = pytest.mark.xdist_group("client")

CREDENTIALS = {"PULLSTATS_HUB_USERNAME": "alice", "PULLSTATS_HUB_PASSWORD": "alice-secret"}


def hub(served: Served, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PULLSTATS_HUB_URL": served.server.url,
        "PULLSTATS_HUB_CONFIG_DIR": str(tmp_path / "config"),
        **CREDENTIALS,
    }
    return run_cli(served.data_dir, "hub", *args, env=env)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_error(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    assert result.returncode == status, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def month_args(served: Served) -> list[str]:
    return ["--year", str(served.month.year), "--month", str(served.month.month)]


def test_download_a_month_then_query_it(served: Served, tmp_path: Path) -> None:
    dest = tmp_path / "exports"
    first = ok(hub(served, tmp_path, "download", "acme", *month_args(served), "--out", str(dest)))
    assert first.startswith("downloaded 4 files (") and first.endswith(
        f" to {dest}; 0 already complete\n"
    )
    folder = dest / "acme" / str(served.month.year) / "months" / f"{served.month.month:02d}"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.gz")) == [
        "namespace-summary/part001.csv.gz",
        "raw/part001.csv.gz",
        "repo-summary/part001.csv.gz",
        "summary/part001.csv.gz",
    ]
    again = ok(hub(served, tmp_path, "download", "acme", *month_args(served), "--out", str(dest)))
    assert again == f"downloaded 0 files (0 B) to {dest}; 4 already complete\n"

    sql = (
        "SELECT repository, pull_by_tag, pull_by_digest, version_check FROM repo_summary "
        "ORDER BY repository"
    )
    table = ok(hub(served, tmp_path, "query", str(dest), sql, "--format", "csv"))
    assert list(csv.reader(io.StringIO(table))) == [
        ["repository", "pull_by_tag", "pull_by_digest", "version_check"],
        ["api", "1", "1", "1"],
        ["tools/cli", "0", "1", "0"],
    ]
    total = "SELECT sum(pull_by_tag + pull_by_digest) AS pulls FROM months_repo_summary"
    assert json.loads(ok(hub(served, tmp_path, "query", str(dest), total, "--format", "json"))) == [
        {"pulls": 3}
    ]
    # JSON has no NaN nor Infinity, which json.dumps writes by default: null, for every parser
    odd = "SELECT 'nan'::DOUBLE AS f, 'inf'::DOUBLE AS g, 1.5::DOUBLE AS h"
    text = ok(hub(served, tmp_path, "query", str(dest), odd, "--format", "json"))
    assert json.loads(text, parse_constant=lambda name: pytest.fail(name)) == [
        {"f": None, "g": None, "h": 1.5}
    ]
    # the table shows names and values as they are, never as Rich markup, and piped it cuts
    # no cell, however wide
    wide = "w" * 300
    marked = f"SELECT 'a[red]b' AS \"[b]n[/b]\", '[/foo]' AS y, '{wide}' AS z"
    shown = ok(hub(served, tmp_path, "query", str(dest), marked)).splitlines()
    assert [line.split() for line in shown if "a[red]b" in line] == [["a[red]b", "[/foo]", wide]]
    assert [line.split() for line in shown if "[b]n[/b]" in line] == [["[b]n[/b]", "y", "z"]]
    # the API says the same for that month
    pulls = json.loads(ok(hub(served, tmp_path, "pulls", "acme", "--format", "json")))["pulls"]
    month = [row for row in pulls if row["start"].startswith(served.month.isoformat())]
    assert [row["pullCount"] for row in month] == [3]


def test_sync_twice_and_a_damaged_file_is_fetched_again(served: Served, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    first = ok(hub(served, tmp_path, "sync", "acme", "--to", str(mirror)))
    count = len(list(mirror.rglob("*.csv.gz")))
    assert count >= 8 and count % 4 == 0  # the month and its weeks, four views each
    assert first.startswith(f"synced: downloaded {count} files (")
    assert first.endswith("; 0 already complete\n")
    second = ok(hub(served, tmp_path, "sync", "acme", "--to", str(mirror)))
    assert second == f"synced: downloaded 0 files (0 B) to {mirror}; {count} already complete\n"
    # flip the last byte of one part, keeping its size and time: --verify finds it
    part = sorted(mirror.rglob("raw/part001.csv.gz"))[0]
    stat = part.stat()
    data = bytearray(part.read_bytes())
    data[-1] ^= 0xFF
    part.write_bytes(bytes(data))
    os.utime(part, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    third = ok(hub(served, tmp_path, "sync", "acme", "--to", str(mirror), "--verify"))
    assert third.startswith("synced: downloaded 1 files (")
    assert third.endswith(f"; {count - 1} already complete\n")


def test_a_sync_that_cannot_write_says_why_not_that_its_manifest_failed_too(
    served: Served, tmp_path: Path
) -> None:
    # a read-only folder as root would see it: neither a file nor the manifest can be written
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "acme").write_text("a file where the namespace's folder goes")
    (mirror / ".pullstats-sync.json").mkdir()
    result = hub(served, tmp_path, "sync", "acme", "--to", str(mirror))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {mirror / 'acme'}") and "Not a directory" in line, line


def test_the_summary_report_is_downloaded_synced_and_queried_when_named(
    served: Served, tmp_path: Path
) -> None:
    dest = tmp_path / "exports"
    args = ["download", "acme", *month_args(served), "--out", str(dest)]
    first = ok(hub(served, tmp_path, *args, "--view", "summary-report"))
    assert first.startswith("downloaded 1 files (")
    month = dest / "acme" / str(served.month.year) / "months" / f"{served.month.month:02d}"
    assert [p.relative_to(month).as_posix() for p in month.rglob("*.gz")] == [
        "summary-report/part001.csv.gz"
    ]
    assert lines(month / "summary-report/part001.csv.gz") == report_lines("monthly", served.month)
    # beside a pulls view, and the report already there is skipped
    both = ok(hub(served, tmp_path, *args, "--view", "summary", "--view", "summary-report"))
    assert both.startswith("downloaded 1 files (") and both.endswith("; 1 already complete\n")

    # every week since the month, reports only
    weeks = tmp_path / "weeks"
    since = ["--since", f"{served.month:%Y-%m}", "--timespan", "weeks"]
    listed = ok(
        hub(
            served,
            tmp_path,
            "download",
            "acme",
            *since,
            "--view",
            "summary-report",
            "--out",
            str(weeks),
        )
    )
    parts = sorted(weeks.rglob("*.gz"))
    assert parts and listed.startswith(f"downloaded {len(parts)} files (")
    assert {(p.parts[-4], p.parts[-2]) for p in parts} == {("weeks", "summary-report")}
    week = seeded_week(served)
    folder = (
        weeks / "acme" / str(week.isocalendar().year) / "weeks" / f"{week.isocalendar().week:02d}"
    )
    assert lines(folder / "summary-report" / "part001.csv.gz") == report_lines("weekly", week)

    mirror = tmp_path / "mirror"
    plain = ok(hub(served, tmp_path, "sync", "acme", "--to", str(mirror)))
    count = len(list(mirror.rglob("*.csv.gz")))
    assert plain.startswith(f"synced: downloaded {count} files (")
    assert not list(mirror.rglob("summary-report"))  # the default is the four pulls views
    reports = ok(
        hub(served, tmp_path, "sync", "acme", "--to", str(mirror), "--view", "summary-report")
    )
    assert reports.startswith(f"synced: downloaded {count // 4} files (")
    assert reports.endswith("; 0 already complete\n")  # the pulls views were not asked about
    sql = (
        "SELECT LEVEL, REFERENCE, DATA_DOWNLOADS, EVENT_COUNT FROM months_summary_report "
        "WHERE LEVEL = 'repository' ORDER BY REFERENCE"
    )
    assert json.loads(ok(hub(served, tmp_path, "query", str(mirror), sql, "--format", "json"))) == [
        {"LEVEL": "repository", "REFERENCE": "acme/api", "DATA_DOWNLOADS": 2, "EVENT_COUNT": 3},
        {
            "LEVEL": "repository",
            "REFERENCE": "acme/tools/cli",
            "DATA_DOWNLOADS": 1,
            "EVENT_COUNT": 1,
        },
    ]


def test_a_file_the_server_sends_damaged_is_named_once(served: Served, tmp_path: Path) -> None:
    label = f"{served.month:%Y-%m}"
    [raw] = served.data_dir.glob(f"exports/acme/{label}/*/acme_raw_{label}_part001.csv.gz")
    kept = raw.read_bytes()
    damaged = bytearray(kept)
    damaged[-5] ^= 0xFF  # a byte of the gzip trailer's CRC: the same size, no whole stream
    raw.write_bytes(bytes(damaged))
    try:
        result = hub(
            served,
            tmp_path,
            "download",
            "acme",
            *month_args(served),
            "--out",
            str(tmp_path / "out"),
        )
    finally:
        raw.write_bytes(kept)
    name = f"acme/{served.month.year}/months/{served.month.month:02d}/raw/part001"
    assert result.returncode == 1
    first, *_, last = result.stderr.splitlines()
    assert first.startswith(f"error: {name}: not a whole gzip stream (") and first.count(name) == 1
    # a second run would fetch the same bytes: the closing line says who can mend it
    assert last.startswith("error: 1 files could not be downloaded: the server sent other bytes")
    assert "run it again" not in last


def test_failures_are_one_line(served: Served, tmp_path: Path) -> None:
    missing = hub(served, tmp_path, "download", "acme", "--year", "2001", "--month", "1")
    assert "not found" in one_error(missing)
    no_period = hub(served, tmp_path, "download", "acme", "--year", "2026")
    assert "name a period" in one_error(no_period, 2)  # a usage error: 2, as typer's own
    both = hub(served, tmp_path, "download", "acme", "--since", "2026-01", "--year", "2026")
    assert "--since lists a range" in one_error(both, 2)
    # a year the API refuses (1-9999) is refused here, before a sign-in and a 422
    far = hub(served, tmp_path, "download", "acme", "--year", "10000", "--month", "1")
    assert far.returncode == 2
    assert "Invalid value for '--year': 10000 is not in the range 1<=x<=9999." in far.stderr
    bad_since = hub(served, tmp_path, "sync", "acme", "--to", str(tmp_path / "m"), "--since", "May")
    assert "--since" in one_error(bad_since, 2)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert one_error(hub(served, tmp_path, "query", str(empty), "SELECT 1 FROM raw"))
    not_yours = hub(served, tmp_path, "download", "globex", *month_args(served))
    assert "not found" in one_error(not_yours)
    no_report = hub(
        served,
        tmp_path,
        "download",
        "acme",
        "--year",
        "2001",
        "--month",
        "1",
        "--view",
        "summary-report",
    )
    assert "no exported data for that period" in one_error(no_report)
