"""A chain of requests that never pauses past the join window runs through whole days: a late
request at its start regroups every day after, and ``process`` follows it there.

One client pulls one repository by digest every 4 s, each digest new, from 2026-10-06
23:59:52 to 2026-10-09 00:00:08: 2 requests on the 6th, 21,600 on each of the 7th and the 8th
(00:00:00 to 23:59:56), 3 on the 9th; 43,205 in all. Each GET by a new digest within 5 s
completes the action before it when that holds one GET (the platform manifest after an
index), so they pair up in time order (data-definitions.md, "From requests to actions"):

- alone: (23:59:52, 23:59:56) on the 6th; the 7th's and the 8th's pair among themselves
  (10,800 each); the 9th: (00:00:00, 00:00:04) and (00:00:08): 1 + 10,800 + 10,800 + 2;
- with a late request at 23:59:48 on the 6th: (23:59:48, 23:59:52) and (23:59:56, 00:00:00)
  on the 6th (2); each later day's first request is taken in by the day before's last action,
  so the 7th pairs 00:00:04 … 23:59:52 and opens 23:59:56, which takes in the 8th's 00:00:00
  (10,800), the 8th likewise (10,800), and the 9th keeps (00:00:04, 00:00:08): 1.
  2 + 10,800 + 10,800 + 1 = 21,603 = ⌈43,206 / 2⌉.

A HEAD by another client on 2026-10-11 is a day the chain never reaches. The test is one
data dir taken through the steps in turn (a chain of whole days is some 40,000 log lines).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import run_cli

CLIENT = "198.51.100.200"
ENV = {"PULLSTATS_RETENTION_LAKE": "0"}  # 2026-10 is past the default lake retention
ALONE = {"2026-10-06": 1, "2026-10-07": 10_800, "2026-10-08": 10_800, "2026-10-09": 2}
WITH_LATE = {"2026-10-06": 2, "2026-10-07": 10_800, "2026-10-08": 10_800, "2026-10-09": 1}
ELSEWHERE = {"2026-10-11": 1}


def _line(at: dt.datetime, reference: str, method: str = "GET", address: str = CLIENT) -> str:
    """An access-log line in the pullstats format (its last field the digest served)."""
    at = at.replace(tzinfo=dt.UTC)
    digest = reference if reference.startswith("sha256:") else f"sha256:{'e' * 64}"
    return (
        f'{address} - - [{at:%d/%b/%Y:%H:%M:%S +0000}] "{method} /v2/acme/chain/manifests/'
        f'{reference} HTTP/1.1" 200 0 "-" "crane/0.19" {at.timestamp():.3f} "{digest}"\n'
    )


def _write_logs(folder: Path) -> tuple[Path, Path]:
    at, number, lines = dt.datetime(2026, 10, 6, 23, 59, 52), 0, []
    while at <= dt.datetime(2026, 10, 9, 0, 0, 8):
        number += 1
        lines.append(_line(at, f"sha256:{number:064x}"))
        at += dt.timedelta(seconds=4)
    assert number == 43_205
    lines.append(_line(dt.datetime(2026, 10, 11, 12), "latest", "HEAD", "198.51.100.7"))
    chain, late = folder / "chain.log", folder / "late.log"
    chain.write_text("".join(lines))
    late.write_text(_line(dt.datetime(2026, 10, 6, 23, 59, 48), f"sha256:{'f' * 64}"))
    return chain, late


def _actions_by_day(data_dir: Path) -> dict[str, int]:
    files = sorted((data_dir / "lake" / "actions").glob("day=*/actions.parquet"))
    return {path.parent.name[4:]: pq.read_metadata(path).num_rows for path in files}


def _cli(data_dir: Path, *args: str) -> str:
    done = run_cli(data_dir, *args, env=ENV)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_late_request_regroups_every_day_its_chain_runs_through(tmp_path: Path) -> None:
    chain, late = _write_logs(tmp_path)
    data_dir = tmp_path / "data"
    _cli(data_dir, "ingest", "logs", str(chain))
    _cli(data_dir, "process")
    assert _actions_by_day(data_dir) == ALONE | ELSEWHERE
    untouched = (data_dir / "lake" / "actions" / "day=2026-10-11" / "actions.parquet").stat()

    _cli(data_dir, "ingest", "logs", str(late))
    out = _cli(data_dir, "process")
    # the 6th and the 7th (the day a request came and the day after), then the 8th and the 9th,
    # whose grouping the late request changed; the 10th holds nothing and hands nothing on
    assert "21603 actions on 4 days" in out, out
    assert _actions_by_day(data_dir) == WITH_LATE | ELSEWHERE
    after = (data_dir / "lake" / "actions" / "day=2026-10-11" / "actions.parquet").stat()
    assert after.st_mtime_ns == untouched.st_mtime_ns

    # as if every request had come at once
    _cli(data_dir, "process", "--rebuild", "--from", "2026-10-05", "--to", "2026-10-12")
    assert _actions_by_day(data_dir) == WITH_LATE | ELSEWHERE

    # the 9th's first request belongs to the 8th's last action only because the 7th's first
    # belongs to the 6th's: the one day a run reads before it cannot tell, so the rebuild
    # of the 9th alone reads back through the 8th and the 7th
    _cli(data_dir, "process", "--rebuild", "--from", "2026-10-09")
    assert _actions_by_day(data_dir) == WITH_LATE | ELSEWHERE
