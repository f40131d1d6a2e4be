"""`pullstats process` on one day of requests, against DuckDB alone doing the bare I/O.

Run (from the repository root):

    python benchmarks/process_day.py --requests 2000000
    python benchmarks/process_day.py --requests 700000 --days 3 --late 2000

Generates `--days` UTC days (default one) of about `--requests` requests each with the seeded
generator into the spool of a temporary data dir (as the server would have written them:
SpoolWriter segments of spool lines), then, `--repeat` times, each on a fresh copy of that
spool:

- times `pullstats process` in a child process (compact, classify, roll up): wall time,
  requests/s, peak RSS of the child, and the stage times its progress bars print (whole
  seconds);
- the baseline: DuckDB alone, in a child process with the same thread and memory settings,
  reading the same spool JSON lines and writing them as Parquet partitioned by day — the I/O
  floor any compaction pays;
- with `--late N`: after that first run, N more requests arrive at noon of the last day, and
  the next `pullstats process` (what the schedule runs every 15 minutes) is timed too, against
  the first run over all the data.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
from _common import (
    Run,
    cli_env,
    markdown_table,
    print_environment,
    pullstats_command,
    run_child,
    spread,
)

from pullstats.config import Settings
from pullstats.demo.catalog import DEMO_CATALOG
from pullstats.demo.spool_encoding import to_spool_lines
from pullstats.demo.synthetic import generate_requests
from pullstats.lake.spool import SpoolWriter

DAY = date(2026, 10, 7)  # a Wednesday: a full working day of traffic (the first of --days)

_STAGES = ("compact spool", "classify days", "roll up periods")
_STAGE_LINE = re.compile(
    r"^(compact spool|classify days|roll up periods).*?(\d+):(\d\d):(\d\d)\s*$"
)

# DuckDB alone: the same spool lines → Parquet by day, nothing else. Spool lines hold ts and
# recv as microseconds; the day comes from ts as in compaction.
_BASELINE = """
import sys, duckdb
spool, target, threads, memory = sys.argv[1:5]
con = duckdb.connect(":memory:")
con.execute(f"SET threads = {int(threads)}")
con.execute("SET memory_limit = ?", [memory])
con.execute("SET TimeZone = 'UTC'")
con.execute("SET preserve_insertion_order = false")
con.execute("SET enable_progress_bar = false")  # it would print into the row count we read
con.execute(f'''
    COPY (
        SELECT *, CAST(make_timestamp(ts) AS DATE) AS day
        FROM read_json('{spool}/*.seg', format = 'newline_delimited', columns = {{
            id: 'VARCHAR', ts: 'BIGINT', method: 'VARCHAR', name: 'VARCHAR', tag: 'VARCHAR',
            digest: 'VARCHAR', ip: 'VARCHAR', ua: 'VARCHAR', src: 'VARCHAR', recv: 'BIGINT'
        }})
    ) TO '{target}' (FORMAT parquet, PARTITION_BY (day), COMPRESSION zstd)
''')
print(con.execute(f"SELECT count(*) FROM read_parquet('{target}/*/*.parquet')").fetchone()[0])
"""


def stage_seconds(progress_output: str) -> dict[str, int]:
    stages = {}
    for line in progress_output.splitlines():
        match = _STAGE_LINE.match(line.strip())
        if match:
            name, h, m, s = match.groups()
            stages[name] = int(h) * 3600 + int(m) * 60 + int(s)
    return stages


def fill_spool(spool: Path, requests: int, seed: int, days: int = 1) -> int:
    writer = SpoolWriter(spool, segment_bytes=256 * 1024 * 1024)
    written = 0
    try:
        for table in generate_requests(
            DEMO_CATALOG, start=DAY, days=days, requests_per_day=requests, seed=seed
        ):
            writer.append(to_spool_lines(table))
            written += table.num_rows
    finally:
        writer.close()
    return written


def add_late_requests(spool: Path, count: int, day: date, seed: int) -> None:
    """``count`` requests of the generator's mix, new ids, one a millisecond from ``day``'s noon."""
    table = next(
        iter(generate_requests(DEMO_CATALOG, start=day, days=1, requests_per_day=count, seed=seed))
    ).slice(0, count)
    noon_us = (day - date(1970, 1, 1)).days * 86_400_000_000 + 12 * 3_600_000_000
    table = table.set_column(
        table.schema.get_field_index("ts"),
        "ts",
        pa.array([noon_us + i * 1000 for i in range(table.num_rows)], pa.int64()),
    )
    table = table.set_column(
        table.schema.get_field_index("id"),
        "id",
        pa.array([f"late-{i}" for i in range(table.num_rows)], pa.string()),
    )
    writer = SpoolWriter(spool, segment_bytes=256 * 1024 * 1024)
    try:
        writer.append(to_spool_lines(table))
    finally:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2_000_000, help="about this many")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, on fresh copies")
    parser.add_argument("--days", type=int, default=1, help="days of --requests each")
    parser.add_argument(
        "--late", type=int, default=0, help="then this many requests at noon of the last day"
    )
    args = parser.parse_args()
    print_environment(" ".join(["python benchmarks/process_day.py", *sys.argv[1:]]))

    with tempfile.TemporaryDirectory(prefix="pullstats-bench-") as tmp:
        root = Path(tmp)
        pristine = root / "spool"
        began = time.perf_counter()
        requests = fill_spool(pristine, args.requests, args.seed, args.days)
        generated = time.perf_counter() - began
        spool_bytes = sum(p.stat().st_size for p in pristine.iterdir())
        settings = Settings(data_dir=root / "unused")
        threads, memory = str(settings.duckdb_threads), settings.duckdb_memory_limit
        env_settings = {
            k: v
            for k, v in os.environ.items()
            if k in ("PULLSTATS_DUCKDB_THREADS", "PULLSTATS_DUCKDB_MEMORY_LIMIT")
        }

        ours: list[Run] = []
        floor: list[Run] = []
        late: list[Run] = []
        stages: list[dict[str, int]] = []
        summary = ""
        for attempt in range(args.repeat):
            data_dir = root / f"data-{attempt}"
            shutil.copytree(pristine, data_dir / "spool")
            run = run_child(pullstats_command("process"), cli_env(data_dir, **env_settings), root)
            ours.append(run)
            stages.append(stage_seconds(run.errors))
            summary = run.output.strip().splitlines()[-1]
            if args.late:
                last_day = DAY + timedelta(days=args.days - 1)
                add_late_requests(data_dir / "spool", args.late, last_day, args.seed + 1)
                late.append(
                    run_child(pullstats_command("process"), cli_env(data_dir, **env_settings), root)
                )
            shutil.rmtree(data_dir)

            copy = root / f"baseline-{attempt}"
            shutil.copytree(pristine, copy / "spool")
            base = run_child(
                [sys.executable, "-c", _BASELINE, str(copy / "spool"), str(copy / "out"), threads,
                 memory],
                dict(os.environ),
                root,
            )  # fmt: skip
            if int(base.output.strip()) != requests:
                sys.exit(f"baseline wrote {base.output.strip()} rows, expected {requests}")
            floor.append(base)
            shutil.rmtree(copy)

    last = DAY + timedelta(days=args.days - 1)
    print(
        f"data: {requests:,} requests on {DAY}{f' to {last}' if args.days > 1 else ''} "
        f"(seed {args.seed}), spool "
        f"{spool_bytes / 1024 / 1024:,.0f} MiB, generated in {generated:.1f} s; "
        f"DuckDB threads={threads} memory_limit={memory}; {args.repeat} run(s), median (range)\n"
    )
    print(
        markdown_table(
            ("", "pullstats process", "baseline: DuckDB spool JSON → Parquet by day"),
            [
                ("wall time", spread([r.seconds for r in ours], "s", 2),
                 spread([r.seconds for r in floor], "s", 2)),
                ("requests/s", spread([requests / r.seconds for r in ours], "", 0),
                 spread([requests / r.seconds for r in floor], "", 0)),
                ("peak RSS (child)", spread([r.peak_rss_mib for r in ours], "MiB", 0),
                 spread([r.peak_rss_mib for r in floor], "MiB", 0)),
                *[
                    (f"stage: {name}", spread([s.get(name, 0) for s in stages], "s", 0), "")
                    for name in _STAGES
                ],
                *(
                    [(f"then {args.late:,} requests at noon of {last}: next process",
                      spread([r.seconds for r in late], "s", 2), "")]
                    if late else []
                ),
            ],
        )
    )  # fmt: skip
    print(
        f"\nstage times are whole seconds, read from the progress bars; pullstats said: {summary}"
    )
    if late:
        print(f"and after the late requests: {late[-1].output.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
