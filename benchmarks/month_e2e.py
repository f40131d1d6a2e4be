"""A month of nginx access logs end to end: `ingest logs`, `process`, `export`, against DuckDB
alone parsing the same file and writing four gzip CSV views.

Run (from the repository root):

    python benchmarks/month_e2e.py                      # October 2026, about 2 M lines
    python benchmarks/month_e2e.py --lines 200000       # a quick run
    python benchmarks/month_e2e.py --source ../main --repeat 2   # old and new code, alternating

Generates one access log in pullstats' nginx format for October 2026 with the seeded demo
generator (`pullstats generate --format nginx`'s traffic: the demo catalog's namespaces, about
`--lines` manifest requests spread over the 31 days), then, `--repeat` times, on a fresh data
dir each time:

- registers the demo namespaces (not timed), then times `pullstats ingest logs FILE`,
  `pullstats process` and `pullstats export --through 2026-11-10` (October and its weeks are
  closed by then), each in a child process whose peak RSS is read with `os.wait4`;
- the reference: one DuckDB script in a child process, with the same thread and memory
  settings, that reads the file as lines, takes every field with the line's regular
  expression (`regexp_extract`, the pattern `ingest logs` uses), and writes four gzip CSV
  files, one per export view's columns, one row per request: no grouping into actions, no
  enrichment, no counting. It does less than pullstats, so beating it is a real bar.

Then, for this checkout, what the three commands cost whatever else they do, as built (each
repeat, on the data dir the pipeline left): each command with nothing to do (`ingest logs` of
an empty file, `process` with no pending day, `export` with every file written), and the parse
alone (the import's `LogParser` over the whole file in a child, timed around the parse only,
writing nothing). Against 0.8 × the reference, that says how much time the target leaves for
the rest of the work: writing the lake, classifying, rolling up and exporting.

With `--source CHECKOUT` the same steps also run with that checkout's `src/` (say a `git
worktree` of main), alternating old and new in each repeat, and the script checks that both
wrote the same actions (every day's file, row for row) and the same export bytes (the sha256
of every file, by namespace, period and name). The table gives the median and range of each.

The CPU table (user + system of each child) ends with the most CPU time that can meet 0.8 × the
reference's wall time: 0.8 × its seconds on every core of the machine, the whole time. A
pipeline that needs more CPU than that misses the target however it spreads its work.
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import hashlib
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
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
from pullstats.demo.render import manifest_info, nginx_lines
from pullstats.demo.seed import demo_namespaces
from pullstats.demo.synthetic import generate_requests
from pullstats.ingest.access_log_formats import line_pattern
from pullstats.lake.ip_hash import IP_HASH_KEY

START = date(2026, 10, 1)
DAYS = 31
THROUGH = "2026-11-10"
STEPS = ("ingest logs", "process", "export")

# DuckDB alone: the log → its fields → four gzip CSV files of one row per request.
_REFERENCE = r"""
import sys, duckdb
log, out, threads, memory, pattern = sys.argv[1:6]
con = duckdb.connect(":memory:")
con.execute(f"SET threads = {int(threads)}")
con.execute("SET memory_limit = ?", [memory])
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")
con.execute(f'''
    CREATE TABLE parsed AS
    WITH lines AS (
        SELECT regexp_extract(line, ?, ['addr', 'request', 'ua', 'msec', 'digest']) AS f
        FROM read_csv(?, columns = {{'line': 'VARCHAR'}}, header = false, delim = E'\\x01',
            quote = '', escape = '', auto_detect = false)
    ), requests AS (
        SELECT f.addr AS ip, f.ua AS user_agent, f.digest AS returned,
            split_part(f.request, ' ', 1) AS method,
            split_part(split_part(f.request, ' ', 2), '/manifests/', 1)[5:] AS name,
            split_part(split_part(f.request, ' ', 2), '/manifests/', 2) AS reference,
            make_timestamp(CAST(CAST(f.msec AS DECIMAL(18, 3)) * 1000000 AS BIGINT)) AS ts
        FROM lines
    )
    SELECT ts, CAST(ts AS DATE) AS action_day, ip, method, user_agent,
        split_part(name, '/', 1) AS namespace, name[strpos(name, '/') + 1:] AS repository,
        reference,
        CASE WHEN reference LIKE 'sha256:%' THEN reference ELSE returned END AS digest,
        CASE WHEN reference LIKE 'sha256:%' THEN '' ELSE reference END AS tag
    FROM requests
''', [pattern, log])
views = {
    "raw": "ts, namespace, repository, reference, digest, tag, action_day, method, user_agent",
    "summary": "action_day, namespace, repository, reference, ip, method",
    "repo-summary": "action_day, namespace, repository, ip, method",
    "namespace-summary": "action_day, namespace, ip, method",
}
for view, columns in views.items():
    con.execute(f"COPY (SELECT {columns} FROM parsed) TO '{out}/{view}.csv.gz' "
                "(HEADER, COMPRESSION gzip)")
print(con.execute("SELECT count(*) FROM parsed").fetchone()[0])
"""


@dataclass
class Code:
    name: str
    pythonpath: str | None
    steps: dict[str, list[Run]] = field(default_factory=lambda: {step: [] for step in STEPS})


def write_log(path: Path, lines: int, seed: int) -> int:
    """About ``lines`` manifest requests of October 2026 as one nginx log; how many written."""
    manifests = manifest_info(DEMO_CATALOG)
    written = 0
    with open(path, "wb") as handle:
        for table in generate_requests(
            DEMO_CATALOG, start=START, days=DAYS, requests_per_day=math.ceil(lines / DAYS),
            seed=seed,
        ):  # fmt: skip
            handle.write(nginx_lines(table, manifests))
            written += table.num_rows
    return written


def code_env(code: Code, data_dir: Path, env_extra: dict[str, str]) -> dict[str, str]:
    """The environment of a pullstats child of ``code`` working on ``data_dir``."""
    env = cli_env(data_dir, **env_extra)
    if code.pythonpath:
        env["PYTHONPATH"] = code.pythonpath
    return env


def pipeline(
    code: Code,
    log: Path,
    data_dir: Path,
    scratch: Path,
    env_extra: dict[str, str],
    after_step: Callable[[str], None] | None = None,
    after_setup: Callable[[], None] | None = None,
) -> None:
    """Register the namespaces (not timed; then ``after_setup()``), then time each of
    ``STEPS`` (each followed by ``after_step(step)``)."""
    env = code_env(code, data_dir, env_extra)
    for namespace in demo_namespaces():
        run_child(pullstats_command("namespaces", "add", namespace), env, scratch)
    # one address-hashing key for every run, so old and new code can be compared row for row
    keys = data_dir / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    key = keys / IP_HASH_KEY
    key.write_bytes(hashlib.sha256(b"month_e2e").digest())
    key.chmod(0o600)
    if after_setup:
        after_setup()
    commands = {
        "ingest logs": pullstats_command("ingest", "logs", str(log)),
        "process": pullstats_command("process"),
        "export": pullstats_command("export", "--through", THROUGH),
    }
    for step in STEPS:
        code.steps[step].append(run_child(commands[step], env, scratch))
        if after_step:
            after_step(step)


# The import's parse alone, in a child like the commands: the whole file through one
# LogParser.parse (one segment, as `ingest logs` parses a file under 1 GiB), timed around the
# parse only; prints the seconds and the requests staged.
_PARSE_ONLY = r"""
import contextlib, os, sys, time
from pullstats.cli.main import arrow_without_pandas
arrow_without_pandas(os.environ)  # as the command does
from pullstats.config import Settings
from pullstats.duckdb_engine import connect
from pullstats.ingest.access_logs import LogParser
from pullstats.ingest.log_lines import open_log, read_line_chunks
from pullstats.timestamps import now_micros
with open(sys.argv[1], "rb") as source, contextlib.closing(connect(Settings())) as db:
    parser = LogParser(db, "auto", now_micros())
    stream, position = open_log(source)
    began = time.perf_counter()
    parsed = parser.parse(read_line_chunks(stream, position))
    print(time.perf_counter() - began, parsed.used)
"""

#: The fixed costs measured for this checkout, in the order they are printed.
FIXED = (
    "start-up: `ingest logs` of an empty file",
    "start-up: `process` with nothing to do",
    "start-up: `export` with every file written",
    "the parse alone (`LogParser` over the file)",
)


def fixed_costs(
    code: Code, log: Path, data_dir: Path, scratch: Path, env_extra: dict[str, str], lines: int
) -> list[float]:
    """Seconds of :data:`FIXED`, on the data dir ``pipeline`` left."""
    env = code_env(code, data_dir, env_extra)
    empty = scratch / "empty.log"
    empty.write_bytes(b"")
    seconds = [
        run_child(pullstats_command(*args), env, scratch).seconds
        for args in (
            ("ingest", "logs", str(empty)),
            ("process",),
            ("export", "--through", THROUGH),
        )
    ]
    parse = run_child([sys.executable, "-c", _PARSE_ONLY, str(log)], env, scratch).output
    parse_seconds, used = parse.split()
    if int(used) != lines:
        sys.exit(f"the parse alone staged {used} requests, expected {lines}")
    return [*seconds, float(parse_seconds)]


def actions_of(data_dir: Path) -> dict[str, pa.Table]:
    folder = data_dir / "lake" / "actions"
    return {p.parent.name: pq.read_table(p) for p in sorted(folder.glob("day=*/actions.parquet"))}


def export_hashes(data_dir: Path) -> dict[tuple[str, ...], str]:
    """sha256 of every export file by (namespace, period, file name): the run's random folder
    name left out."""
    hashes = {}
    for path in (data_dir / "exports").rglob("*.csv.gz"):
        namespace, label, _folder, name = path.relative_to(data_dir / "exports").parts
        hashes[(namespace, label, name)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def _content_diff(old: Path, new: Path, key: tuple[str, ...]) -> str:
    """What differs in one export file of two runs: its lines (a few), or only its bytes."""
    texts = []
    for root in (old, new):
        namespace, label, name = key
        found = list((root / "exports" / namespace / label).glob(f"*/{name}"))
        texts.append(gzip.decompress(found[0].read_bytes()).decode() if found else "")
    if texts[0] == texts[1]:
        return "  the same lines, other bytes"
    diff = difflib.unified_diff(
        texts[0].splitlines(), texts[1].splitlines(), "old", "new", lineterm="", n=0
    )
    return "\n".join(list(diff)[:20])


def check_same(old: Path, new: Path) -> str:
    old_actions, new_actions = actions_of(old), actions_of(new)
    if old_actions.keys() != new_actions.keys():
        sys.exit(f"the action days differ: {sorted(old_actions)} / {sorted(new_actions)}")
    added: set[str] = set()
    for day, table in old_actions.items():
        # a column one side's lake schema has and the other's lacks (user_hash, lake schema
        # version 2) is left out; every column both have must be equal, row for row
        newer = new_actions[day]
        common = [name for name in table.column_names if name in newer.column_names]
        added |= set(table.column_names) ^ set(newer.column_names)
        if not table.select(common).equals(newer.select(common)):
            sys.exit(f"the actions of {day} differ")
    old_hashes, new_hashes = export_hashes(old), export_hashes(new)
    # a kind of file only one side writes (a report added since) is counted, not compared;
    # every file both write must be the same bytes, and the old side may not write one more
    kinds = {_kind(key) for key in old_hashes}
    extra = {key for key in new_hashes if _kind(key) not in kinds}
    compared = {key: digest for key, digest in new_hashes.items() if key not in extra}
    if old_hashes != compared:
        differing = sorted(k for k in old_hashes.keys() | compared.keys()
                           if old_hashes.get(k) != compared.get(k))  # fmt: skip
        for key in differing[:5]:
            print(f"{'/'.join(key)}:\n{_content_diff(old, new, key)}", file=sys.stderr)
        sys.exit(f"the exports differ: {differing[:5]}")
    rows = sum(t.num_rows for t in old_actions.values())
    only = f" (columns only one side has: {', '.join(sorted(added))})" if added else ""
    new_kinds = sorted({_kind(key) for key in extra})
    more = f", and {len(extra)} files of kinds only the new writes ({', '.join(new_kinds)})"
    return (
        f"old and new wrote the same {rows:,} actions on {len(old_actions)} days{only} and the "
        f"same {len(old_hashes)} export files (sha256){more if extra else ''}"
    )


def _kind(key: tuple[str, str, str]) -> str:
    """The kind of an export file (``raw``, ``summary-report`` …) from its name
    ``{namespace}_{kind}_{label}_partNNN.csv.gz``."""
    namespace, label, name = key
    return name.removeprefix(f"{namespace}_").split(f"_{label}_")[0]


def fixed_table(code: Code, fixed: list[list[float]], ref_seconds: list[float]) -> str:
    """:data:`FIXED` for ``code``, and what 0.8 × the reference leaves for the rest of the
    work beside what the rest takes now (each repeat's own figures, then their median)."""
    rows: list[list[object]] = [
        [name, spread([run[i] for run in fixed], "s", 2)] for i, name in enumerate(FIXED)
    ]
    sums = [sum(run) for run in fixed]
    totals = [sum(code.steps[step][i].seconds for step in STEPS) for i in range(len(fixed))]
    rows += [
        ["fixed costs in all", spread(sums, "s", 2)],
        ["0.8 × the reference", spread([0.8 * r for r in ref_seconds], "s", 2)],
        [
            "what 0.8 × leaves for the rest (the lake, classifying, rolling up, exporting)",
            spread([0.8 * r - f for r, f in zip(ref_seconds, sums, strict=True)], "s", 2),
        ],
        [
            "what the rest takes now (end to end − fixed costs)",
            spread([t - f for t, f in zip(totals, sums, strict=True)], "s", 2),
        ],
    ]
    return markdown_table([f"{code.name}: fixed costs", "seconds"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=2_000_000, help="about this many")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, fresh data dirs")
    parser.add_argument("--source", type=Path, help="also run this checkout's src/ (old code)")
    parser.add_argument("--keep", type=Path, help="generate the log here, or reuse it")
    args = parser.parse_args()
    print_environment(" ".join(["python benchmarks/month_e2e.py", *sys.argv[1:]]))

    settings = Settings(data_dir=Path("unused"))
    threads, memory = str(settings.duckdb_threads), settings.duckdb_memory_limit
    env_extra = {
        k: v
        for k, v in os.environ.items()
        if k in ("PULLSTATS_DUCKDB_THREADS", "PULLSTATS_DUCKDB_MEMORY_LIMIT")
    }
    codes = [Code("this checkout", None)]
    if args.source is not None:
        codes.insert(0, Code(f"{args.source} (old)", str(args.source.resolve() / "src")))
    reference: list[Run] = []
    fixed: list[list[float]] = []  # per repeat, FIXED's seconds
    checked = ""
    with tempfile.TemporaryDirectory(prefix="pullstats-bench-") as tmp:
        root = Path(tmp)
        log = args.keep or root / "access.log"
        began = time.perf_counter()
        if args.keep and log.exists():
            with open(log, "rb") as handle:
                lines = sum(b.count(b"\n") for b in iter(lambda: handle.read(1 << 24), b""))
        else:
            lines = write_log(log, args.lines, args.seed)
        generated = time.perf_counter() - began
        for attempt in range(args.repeat):
            dirs = []
            for number, code in enumerate(codes):
                data_dir = root / f"data-{attempt}-{number}"
                pipeline(code, log, data_dir, root, env_extra)
                dirs.append(data_dir)
            if len(dirs) == 2:
                checked = check_same(*dirs)
            fixed.append(fixed_costs(codes[-1], log, dirs[-1], root, env_extra, lines))
            for data_dir in dirs:
                shutil.rmtree(data_dir)
            out = root / f"reference-{attempt}"
            out.mkdir()
            run = run_child(
                [sys.executable, "-c", _REFERENCE, str(log), str(out), threads, memory,
                 line_pattern("pullstats")],
                dict(os.environ),
                root,
            )  # fmt: skip
            if int(run.output.strip()) != lines:
                sys.exit(f"the reference parsed {run.output.strip()} lines, expected {lines}")
            reference.append(run)
            shutil.rmtree(out)
        size = log.stat().st_size

    print(
        f"data: {lines:,} nginx lines of {START:%B %Y} (seed {args.seed}), "
        f"{size / 1024 / 1024:,.0f} MiB, generated in {generated:.1f} s; DuckDB threads="
        f"{threads} memory_limit={memory}; {args.repeat} run(s), median (range)\n"
    )
    header = ["", *(f"{c.name}: seconds" for c in codes), *(f"{c.name}: peak RSS" for c in codes)]
    rows: list[list[object]] = []
    for step in STEPS:
        rows.append(
            [f"`{step}`"]
            + [spread([r.seconds for r in c.steps[step]], "s", 2) for c in codes]
            + [spread([r.peak_rss_mib for r in c.steps[step]], "MiB", 0) for c in codes]
        )
    totals = [np.sum([[r.seconds for r in c.steps[s]] for s in STEPS], axis=0) for c in codes]
    rows.append(["end to end", *(spread(list(t), "s", 2) for t in totals), *([""] * len(codes))])
    ref_seconds = [r.seconds for r in reference]
    rows.append(
        ["reference: DuckDB regex → 4 gzip CSV", *([spread(ref_seconds, "s", 2)] * len(codes)),
         *([spread([r.peak_rss_mib for r in reference], "MiB", 0)] * len(codes))]
    )  # fmt: skip
    rows.append(
        ["end to end / reference",
         *(spread([float(t) / r for t, r in zip(total, ref_seconds, strict=True)], "", 2)
           for total in totals),
         *([""] * len(codes))]
    )  # fmt: skip
    print(markdown_table(header, rows))
    # CPU time (user + system) of each child: on a machine shared with other work the wall
    # times move with the load, the CPU a command needs much less
    cpu_header = ["CPU (user + system)", *(f"{c.name}: CPU seconds" for c in codes)]
    cpu_rows: list[list[object]] = [
        [f"`{step}`", *(spread([r.cpu_seconds for r in c.steps[step]], "s", 2) for c in codes)]
        for step in STEPS
    ]
    cpu_totals = [
        np.sum([[r.cpu_seconds for r in c.steps[s]] for s in STEPS], axis=0) for c in codes
    ]
    cpu_rows.append(["end to end", *(spread(list(t), "s", 2) for t in cpu_totals)])
    ref_cpu = spread([r.cpu_seconds for r in reference], "s", 2)
    cpu_rows.append(["reference", *([ref_cpu] * len(codes))])
    # 0.8x of the reference's wall time on every core, all of the time: no more CPU than this
    # can meet the target, however well the work is spread over the cores
    cores = os.cpu_count() or 1
    cpu_rows.append(
        [f"the most CPU that meets 0.8 × (0.8 × the reference's seconds × {cores} cores)",
         *([spread([0.8 * r * cores for r in ref_seconds], "s", 2)] * len(codes))]
    )  # fmt: skip
    print("\n" + markdown_table(cpu_header, cpu_rows))
    print("\n" + fixed_table(codes[-1], fixed, ref_seconds))
    for code in codes:
        print(f"\n{code.name}: {code.steps['process'][-1].output.strip().splitlines()[-1]}")
        print(f"{code.name}: {code.steps['export'][-1].output.strip().splitlines()[-1]}")
    if checked:
        print(f"\n{checked}")


if __name__ == "__main__":
    main()
