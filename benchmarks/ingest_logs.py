"""Benchmark: ``pullstats ingest logs`` against DuckDB alone reading the same file.

    python benchmarks/ingest_logs.py --lines 1000000

Generates an nginx access log in the pullstats format (combined + ``$msec`` and the returned
``Docker-Content-Digest``) with the given number of lines: the manifest requests of the seeded
synthetic generator, plus what a registry's nginx also sees around them (blob downloads, the
``/v2/`` ping that answers 401 before a client has a token, manifests that are not found).
Then, in the same run and on the same file:

(a) DuckDB alone: ``read_csv`` as one column and the line's regular expression from
    ``pullstats.ingest.access_logs``, counting the lines that match, twice: once only testing
    for a match (``regexp_matches``), once reading every field the pattern captures (one
    ``regexp_extract`` with all seven group names, which is what reading a log with a regular
    expression takes);
(b) ``pullstats ingest logs FILE`` in a child process, on a fresh data dir.

It prints one Markdown table row with both times and the ratios. The target (issue 3) is (b)
within 2x of (a) at 10 million lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from _common import cli_env, print_environment, pullstats_command

from pullstats.demo.catalog import DEMO_CATALOG
from pullstats.demo.synthetic import generate_requests
from pullstats.ingest.access_log_formats import line_pattern

# Around every 100 manifest requests: blob downloads, /v2/ pings (401), manifests not found.
BLOBS_PER_100 = 60
PINGS_PER_100 = 30
MISSES_PER_100 = 3
LINES_PER_REQUEST = 1 + (BLOBS_PER_100 + PINGS_PER_100 + MISSES_PER_100) / 100
LINES_PER_DAY = 1_500_000  # a busy registry


def render(requests: pa.Table, rng: np.random.Generator) -> bytes:
    """Requests (SPOOL_SCHEMA) and the lines around them → nginx pullstats-format lines."""
    n = requests.num_rows
    reference = pc.if_else(pc.not_equal(requests["tag"], ""), requests["tag"], requests["digest"])
    parts = [
        pa.table(
            {
                "at": requests["ts"],
                "ip": requests["ip"],
                "method": requests["method"],
                "path": pc.binary_join_element_wise(
                    "/v2/", requests["name"], "/manifests/", reference, ""
                ),
                "status": pa.repeat(pa.scalar("200"), n),
                "ua": requests["ua"],
                "digest": requests["digest"],
            }
        )
    ]
    for per_100, status in (
        (BLOBS_PER_100, "200"),
        (PINGS_PER_100, "401"),
        (MISSES_PER_100, "404"),
    ):
        near = requests.take(pa.array(rng.integers(0, n, n * per_100 // 100)))
        m = near.num_rows
        if status == "200":
            path = pc.binary_join_element_wise("/v2/", near["name"], "/blobs/", near["digest"], "")
        elif status == "401":
            path = pa.repeat(pa.scalar("/v2/"), m)
        else:
            path = pc.binary_join_element_wise("/v2/", near["name"], "/manifests/nosuchtag", "")
        parts.append(
            pa.table(
                {
                    "at": pc.add(near["ts"], pa.array(rng.integers(1_000, 900_000, m))),
                    "ip": near["ip"],
                    "method": pa.repeat(pa.scalar("GET"), m),
                    "path": path,
                    "status": pa.repeat(pa.scalar(status), m),
                    "ua": near["ua"],
                    "digest": pa.repeat(pa.scalar("-"), m),
                }
            )
        )
    lines = pa.concat_tables(parts).sort_by("at")
    at = lines["at"].to_numpy()
    # $time_local has whole seconds (strftime of a µs timestamp would print the fraction)
    stamp = pc.strftime(
        pa.array(at // 1_000_000, pa.timestamp("s", tz="UTC")), format="%d/%b/%Y:%H:%M:%S +0000"
    )
    millis = at // 1000
    msec = pc.binary_join_element_wise(
        pc.cast(pa.array(millis // 1000), pa.string()),
        pc.utf8_lpad(pc.cast(pa.array(millis % 1000), pa.string()), 3, "0"),
        ".",
    )
    size = pc.cast(pa.array(rng.integers(500, 40_000_000, len(at))), pa.string())
    # nginx writes a backslash in a logged value as \x5C (docker's user agents hold some)
    ua = pc.replace_substring(lines["ua"], "\\", "\\x5C")
    text = pc.binary_join_element_wise(
        lines["ip"],
        " - - [",
        stamp,
        '] "',
        lines["method"],
        " ",
        lines["path"],
        ' HTTP/1.1" ',
        lines["status"],
        " ",
        size,
        ' "-" "',
        ua,
        '" ',
        msec,
        ' "',
        lines["digest"],
        '"\n',
        "",
    )
    return b"".join(_bytes_of(chunk) for chunk in text.chunks)


def _bytes_of(array: pa.Array) -> bytes:
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)
    begin, end = int(offsets[array.offset]), int(offsets[array.offset + len(array)])
    return array.buffers()[2].to_pybytes()[begin:end] if end > begin else b""


def write_log(path: Path, lines: int, seed: int) -> int:
    """Write about ``lines`` lines; returns how many were written."""
    days = max(1, math.ceil(lines / LINES_PER_DAY))
    per_day = round(lines / LINES_PER_REQUEST / days)
    rng = np.random.default_rng(seed)
    written = 0
    with open(path, "wb") as handle:
        for table in generate_requests(
            DEMO_CATALOG, start=dt.date(2026, 3, 2), days=days, requests_per_day=per_day, seed=seed
        ):
            data = render(table, rng)
            handle.write(data)
            written += data.count(b"\n")
    return written


def duckdb_alone(path: Path, threads: int, *, extract: bool) -> tuple[float, int]:
    """Seconds for DuckDB to read the file as one column and match every line (or extract all
    of its fields); the lines that match."""
    pattern = line_pattern("pullstats")
    fields = "['addr', 'time', 'request', 'status', 'ua', 'msec', 'digest']"
    test = (
        f"regexp_extract(line, '{pattern}', {fields}).addr <> ''"
        if extract
        else f"regexp_matches(line, '{pattern}')"
    )
    started = time.perf_counter()
    with duckdb.connect() as connection:
        connection.execute(f"SET threads = {threads}")
        row = connection.execute(
            f"""
            SELECT count(*) FROM read_csv(?, columns = {{'line': 'VARCHAR'}}, header = false,
                delim = E'\\x01', quote = '', escape = '', auto_detect = false)
            WHERE {test}
            """,
            [str(path)],
        ).fetchone()
    return time.perf_counter() - started, int(row[0]) if row else 0


def pullstats_ingest(path: Path, data_dir: Path, threads: int) -> tuple[float, str]:
    """``pullstats ingest logs`` in a child, with ``threads`` DuckDB threads (passed in its
    environment: ``cli_env`` keeps no other ``PULLSTATS_*`` variable of this process)."""
    env = cli_env(data_dir, PULLSTATS_DUCKDB_THREADS=str(threads))
    started = time.perf_counter()
    done = subprocess.run(
        pullstats_command("ingest", "logs", str(path)),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads for both sides")
    parser.add_argument(
        "--keep",
        type=Path,
        help="generate the log at this path, or reuse it if it is there (repeated runs)",
    )
    args = parser.parse_args()
    print_environment()
    with tempfile.TemporaryDirectory(prefix="pullstats-bench-") as tmp:
        log = args.keep or Path(tmp) / "access.log"
        if args.keep and log.exists():
            with open(log, "rb") as handle:
                lines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))
        else:
            lines = write_log(log, args.lines, args.seed)
        size = log.stat().st_size
        print(f"{lines} lines, {size / 1e6:.0f} MB", file=sys.stderr)
        match_s, matched = duckdb_alone(log, args.threads, extract=False)
        extract_s, extracted = duckdb_alone(log, args.threads, extract=True)
        assert extracted == matched, (extracted, matched)
        ingest_s, summary = pullstats_ingest(log, Path(tmp) / "data", args.threads)
        print(f"duckdb: {matched} lines match; pullstats: {summary}", file=sys.stderr)
    print(
        "| lines | MB | DuckDB regexp_matches (s) | DuckDB regexp_extract, all fields (s) "
        "| pullstats ingest logs (s) | ratio to matches | ratio to all fields |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {lines:,} | {size / 1e6:.0f} | {match_s:.2f} | {extract_s:.2f} | {ingest_s:.2f} "
        f"| {ingest_s / match_s:.2f} | {ingest_s / extract_s:.2f} |"
    )


if __name__ == "__main__":
    main()
