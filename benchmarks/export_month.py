"""`pullstats export` of one month, against a naive DuckDB script and a pandas implementation.

Run (from the repository root):

    python benchmarks/export_month.py --actions 10000000

Needs pandas for baseline (b), run by default. pandas is not a pullstats dependency (only the
`spark` extra has it); install it for the benchmark only (`pip install -c constraints.txt
pandas`), or pass `--no-pandas` to skip that baseline.

Generates one calendar month (October 2026) of `--actions` actions directly as the lake's
action Parquet files (`lake/actions/day=D/actions.parquet`, the schema that
`pullstats.classify.actions` writes), with realistic cardinalities: namespace `acme` with 50
repositories, a few hundred tags and digests, about 100,000 distinct clients (`ip_hash`) and
long user agents; then registers `acme`, sets the node's watermark and rolls the month up
(`pullstats.rollups.compute.rollup_periods`) so the month is closed and has data. Then it
times, in the same run, each in a child process whose peak RSS is read with `os.wait4` by a
small wrapper process between (`_common.run_child`: not this benchmark's own peak):

- `pullstats export --through 2026-11-30` (the four views of the month, and three more files
  the baselines do not write: Docker's Summary, Trends and Co-usage reports);
- (a) naive: one DuckDB SQL script, `COPY (view) TO '….csv.gz' (COMPRESSION gzip)` for each
  of the four views, with the same thread and memory settings;
- (b) pandas: read the month's Parquet, sort, group, `to_csv(compression="gzip")`.

It checks that the three produce the same rows of the four views (decompressed, compared per
view as sorted lines), then prints a Markdown table.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _common import (
    actions_table,
    cli_env,
    markdown_table,
    print_environment,
    pullstats_command,
    run_child,
)

from pullstats.accounts import service
from pullstats.config import Settings
from pullstats.db.models import ExportFile
from pullstats.periods import Period
from pullstats.rollups.compute import rollup_periods
from pullstats.runtime import Runtime

MONTH = Period.month(2026, 10)
THROUGH = "2026-11-30"
NAMESPACE = "acme"
VIEWS = ("raw", "summary", "repo-summary", "namespace-summary")

# ---------------------------------------------------------------------------------------------
# data


def _pool(rng: np.random.Generator, count: int, make: object) -> list[str]:
    assert callable(make)
    return [str(make(rng, i)) for i in range(count)]


def _user_agent(rng: np.random.Generator, i: int) -> str:
    version = f"{rng.integers(19, 28)}.{rng.integers(0, 10)}.{rng.integers(0, 10)}"
    kernel = f"{rng.integers(4, 7)}.{rng.integers(0, 20)}.{rng.integers(0, 200)}-{i}-generic"
    commit = hashlib.sha1(str(i).encode()).hexdigest()[:7]
    return (
        f"docker/{version} go/go1.{rng.integers(18, 24)}.{rng.integers(0, 12)} "
        f"git-commit/{commit} kernel/{kernel} os/linux arch/amd64 "
        f"UpstreamClient(Docker-Client/{version} \\(linux\\))"
    )


@dataclass(frozen=True)
class Pools:
    repos: pa.Array
    tags: pa.Array
    digests: pa.Array
    user_agents: pa.Array
    tools: pa.Array
    versions: pa.Array
    ips: np.ndarray
    countries: pa.Array
    hosts: pa.Array
    types: pa.Array
    domains: pa.Array


def make_pools(rng: np.random.Generator) -> Pools:
    repos = [f"service-{i:02d}" if i % 5 else f"group/app-{i:02d}" for i in range(50)]
    tags = [
        "latest",
        *(
            f"{major}.{minor}.{patch}"
            for major in range(1, 4)
            for minor in range(10)
            for patch in range(10)
        ),
    ][:300]
    digests = [f"sha256:{hashlib.sha256(str(i).encode()).hexdigest()}" for i in range(400)]
    agents = _pool(rng, 2000, _user_agent)
    agents[7] = '=HYPERLINK("http://example.com","x")'  # a client-controlled formula
    agents[8] = 'containerd/1.7.2, "quoted"'  # needs CSV quoting
    versions = [a.split(" ")[0].split("/")[1] if a.startswith("docker/") else "" for a in agents]
    return Pools(
        repos=pa.array(repos),
        tags=pa.array(tags),
        digests=pa.array(digests),
        user_agents=pa.array(agents),
        tools=pa.array(["docker" if a.startswith("docker/") else "" for a in agents]),
        versions=pa.array(versions),
        ips=rng.bytes(16 * 100_000),
        countries=pa.array(["US", "DE", "FR", "GB", "JP", "IN", "BR", "NL", "ZZ", ""]),
        hosts=pa.array(["", "aws", "gcp", "azure"]),
        types=pa.array(["", "business", "hosting", "isp"]),
        domains=pa.array(["", "example.com", "example.org", "corp.example"]),
    )


def _take(pool: pa.Array, index: np.ndarray) -> pa.Array:
    return pool.take(pa.array(index))


def day_table(rng: np.random.Generator, pools: Pools, day: date, rows: int) -> pa.Table:
    start = int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1_000_000)
    stamps = np.sort(rng.integers(0, 86_400_000_000, rows)) + start
    kind = rng.choice(3, rows, p=[0.7, 0.15, 0.15])  # tag pull, digest pull, version check
    repo = rng.zipf(1.6, rows) % 50
    tag_index = (repo * 7 + rng.zipf(1.4, rows)) % len(pools.tags)
    digest_index = (tag_index * 3 + rng.integers(0, 2, rows)) % len(pools.digests)
    tags = _take(pools.tags, tag_index)
    digests = _take(pools.digests, digest_index)
    by_digest = pa.array(kind == 1)
    empty = pa.array([""] * rows)
    agent = rng.zipf(1.3, rows) % len(pools.user_agents)
    ips = np.frombuffer(pools.ips, dtype="S16")[rng.zipf(1.2, rows) % 100_000]
    http = np.where(kind == 2, "HEAD", "GET")
    return actions_table(
        rows,
        {
            "timestamp": pa.array(stamps, pa.timestamp("us")),
            "action_day": pa.array([day] * rows, pa.date32()),
            "namespace": pa.array([NAMESPACE] * rows),
            "repository": _take(pools.repos, repo),
            "reference": pa.compute.if_else(by_digest, digests, tags),
            "digest": digests,
            "tag": pa.compute.if_else(by_digest, empty, tags),
            "http_method": pa.array(http),
            "action": pa.array(np.array(["pull_by_tag", "pull_by_digest", "version_check"])[kind]),
            "type": _take(pools.types, rng.integers(0, 4, rows)),
            "host": _take(pools.hosts, rng.integers(0, 4, rows)),
            "country": _take(pools.countries, rng.integers(0, 10, rows)),
            "domain": _take(pools.domains, rng.integers(0, 4, rows)),
            "user_agent_tool": _take(pools.tools, agent),
            "user_agent_version": _take(pools.versions, agent),
            "user_agent": _take(pools.user_agents, agent),
            "ip_hash": pa.array(ips, pa.binary()),
            "ruleset_version": pa.array(np.ones(rows, np.int16)),
        },
    )


def generate(data_dir: Path, actions: int, seed: int) -> Runtime:
    """Write the month's action files and the catalog rows that make it closed with data."""
    runtime = Runtime.open(Settings(data_dir=data_dir))
    rng = np.random.default_rng(seed)
    pools = make_pools(rng)
    days = (MONTH.next_start - MONTH.start).days
    per_day = np.full(days, actions // days)
    per_day[: actions % days] += 1
    for offset, rows in enumerate(per_day):
        day = MONTH.start + timedelta(days=offset)
        folder = runtime.paths.actions_day(day)
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            day_table(rng, pools, day, int(rows)), folder / "actions.parquet", compression="zstd"
        )
    with runtime.sessions.begin() as session:
        service.create_namespace(session, NAMESPACE)
    runtime.node_seen(datetime(2026, 11, 30, tzinfo=UTC))  # this node's watermark
    rollup_periods(runtime, [MONTH])
    return runtime


# ---------------------------------------------------------------------------------------------
# the three contenders, each in a child process

_SETTINGS = """
import sys, duckdb
con = duckdb.connect(":memory:")
con.execute("SET threads = 2")
con.execute("SET memory_limit = '1.5GB'")
con.execute("SET TimeZone = 'UTC'")
con.execute("SET temp_directory = ?", [sys.argv[3]])
"""

# (a) The naive way: the four views as plain SQL, each written by DuckDB's own gzip CSV writer.
NAIVE = (
    _SETTINGS
    + r'''
files, out = sys.argv[1], sys.argv[2]
con.execute(
    "CREATE MACRO safe_cell(s) AS CASE WHEN s = '' THEN NULL "
    "WHEN regexp_matches(s, '^[=+\\-@\\t\\r]') THEN chr(39) || s ELSE s END"
)
opts = "(FORMAT csv, HEADER, NEW_LINE '\r\n', COMPRESSION gzip)"
scope = f"(SELECT * FROM read_parquet('{files}') WHERE namespace = 'acme')"
con.execute(f"""
COPY (
    SELECT strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%gZ') AS timestamp, namespace, repository,
        safe_cell(reference) AS reference, nullif(digest, '') AS digest, safe_cell(tag) AS tag,
        strftime(action_day, '%Y-%m-%d') AS action_day, http_method, action,
        nullif(type, '') AS type, nullif(host, '') AS host, nullif(country, '') AS country,
        nullif(domain, '') AS domain, nullif(user_agent_tool, '') AS user_agent_tool,
        safe_cell(user_agent_version) AS user_agent_version, safe_cell(user_agent) AS user_agent
    FROM {scope}
    ORDER BY timestamp, namespace, repository, reference, digest, tag, http_method, action,
        ip_hash, user_agent, type, host, country, domain
) TO '{out}/raw.csv.gz' {opts};
""")
for view, keys in (
    ("summary", "namespace, repository, reference"),
    ("repo-summary", "namespace, repository"),
    ("namespace-summary", "namespace"),
):
    selected = keys.replace("reference", "safe_cell(reference) AS reference")
    con.execute(f"""
    COPY (
        SELECT '2026-10-01T00:00:00Z' AS period_start, '2026-10-31T23:59:59Z' AS period_end,
            {selected}, count(DISTINCT ip_hash) AS unique_ip_count,
            count(*) FILTER (WHERE action = 'pull_by_tag') AS pull_by_tag,
            count(*) FILTER (WHERE action = 'pull_by_digest') AS pull_by_digest,
            count(*) FILTER (WHERE action = 'version_check') AS version_check
        FROM {scope} GROUP BY {keys} ORDER BY {keys}
    ) TO '{out}/{view}.csv.gz' {opts};
    """)
'''
)

# (b) A straightforward pandas implementation of the same four files.
PANDAS = r"""
import sys, glob
import pandas as pd
files, out = sys.argv[1], sys.argv[2]
df = pd.read_parquet(sorted(glob.glob(files)), filters=[("namespace", "==", "acme")])
gz = {"method": "gzip", "compresslevel": 6, "mtime": 0}
def safe(column):
    text = column.fillna("")
    return text.where(~text.str.match(r"^[=+\-@\t\r]"), "'" + text)
for column in ("reference", "tag", "user_agent_version", "user_agent"):
    df[column] = safe(df[column])
df = df.sort_values(["timestamp", "namespace", "repository", "reference", "digest", "tag",
    "http_method", "action", "ip_hash", "user_agent", "type", "host", "country", "domain"])
raw = df.drop(columns=["ip_hash", "ruleset_version"])
raw["timestamp"] = raw["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
raw["action_day"] = raw["action_day"].astype(str)
columns = ["timestamp", "namespace", "repository", "reference", "digest", "tag", "action_day",
    "http_method", "action", "type", "host", "country", "domain", "user_agent_tool",
    "user_agent_version", "user_agent"]
raw[columns].to_csv(f"{out}/raw.csv.gz", index=False, lineterminator="\r\n", compression=gz)
for action in ("pull_by_tag", "pull_by_digest", "version_check"):
    df[action] = (df["action"] == action).astype("int64")
for view, keys in (("summary", ["namespace", "repository", "reference"]),
                   ("repo-summary", ["namespace", "repository"]),
                   ("namespace-summary", ["namespace"])):
    grouped = df.groupby(keys, sort=True).agg(
        unique_ip_count=("ip_hash", "nunique"), pull_by_tag=("pull_by_tag", "sum"),
        pull_by_digest=("pull_by_digest", "sum"), version_check=("version_check", "sum"),
    ).reset_index()
    grouped.insert(0, "period_end", "2026-10-31T23:59:59Z")
    grouped.insert(0, "period_start", "2026-10-01T00:00:00Z")
    grouped.to_csv(f"{out}/{view}.csv.gz", index=False, lineterminator="\r\n", compression=gz)
"""


def pullstats_files(runtime: Runtime) -> tuple[dict[str, list[Path]], list[str]]:
    """The files of the four views the baselines also write, and the names of the others
    pullstats writes (Docker's Summary, Trends and Co-usage reports)."""
    with runtime.sessions() as session:
        rows = session.query(ExportFile).order_by(ExportFile.view, ExportFile.part).all()
    found: dict[str, list[Path]] = {view: [] for view in VIEWS}
    others: list[str] = []
    for row in rows:
        if row.view in found:
            found[row.view].append(runtime.paths.exports / row.path)
        else:
            others.append(row.view)
    return found, others


def _lines(paths: list[Path]) -> list[bytes]:
    """Data lines of a view's parts, without their header lines."""
    lines: list[bytes] = []
    for path in paths:
        lines += gzip.decompress(path.read_bytes()).split(b"\r\n")[1:-1]
    return lines


def check_same_rows(ours: dict[str, list[Path]], other: Path, name: str) -> None:
    for view in VIEWS:
        mine, theirs = _lines(ours[view]), _lines([other / f"{view}.csv.gz"])
        if sorted(mine) != sorted(theirs):
            sys.exit(f"{name} wrote different {view} rows than pullstats")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--actions", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--no-pandas", action="store_true", help="skip baseline (b)")
    parser.add_argument(
        "--check",
        choices=("auto", "yes", "no"),
        default="auto",
        help="compare the four views' rows of all three (auto: up to 2 M actions; slow in Python)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    args = parser.parse_args()
    pandas = not args.no_pandas
    if pandas:
        try:
            import pandas as _  # noqa: F401
        except ImportError:
            sys.exit(
                "baseline (b), run by default, needs pandas, which pullstats does not install "
                "(only its spark extra has it): pip install -c constraints.txt pandas, or pass "
                "--no-pandas to skip that baseline"
            )

    print_environment()
    scratch = Path(tempfile.mkdtemp(prefix="export-month-"))
    try:
        data_dir = scratch / "data"
        began = time.perf_counter()
        runtime = generate(data_dir, args.actions, args.seed)
        print(f"generated {args.actions:,} actions in {time.perf_counter() - began:.0f} s\n")
        files = str(runtime.paths.actions / "day=*" / "actions.parquet")
        duck_tmp = str(scratch / "duckdb-tmp")

        ours = run_child(
            pullstats_command("export", "--through", THROUGH), cli_env(data_dir), scratch
        )
        produced, others = pullstats_files(runtime)
        raw_bytes = sum(p.stat().st_size for p in produced["raw"])
        results = [("`pullstats export`", ours)]
        outputs: list[tuple[str, Path]] = []
        for name, script, wanted in (
            ("(a) DuckDB `COPY … (COMPRESSION gzip)`", NAIVE, True),
            ("(b) pandas `to_csv(compression=gzip)`", PANDAS, pandas),
        ):
            if not wanted:
                continue
            out = scratch / name[1]
            out.mkdir()
            command = [sys.executable, "-c", script, files, str(out), duck_tmp]
            results.append((name, run_child(command, dict(os.environ), scratch)))
            outputs.append((name, out))

        check = args.check == "yes" or (args.check == "auto" and args.actions <= 2_000_000)
        if check:
            for name, out in outputs:
                check_same_rows(produced, out, name)
        rows = [
            (
                name,
                f"{run.seconds:.1f}",
                f"{run.peak_rss_mib:,.0f}",
                f"{run.seconds / ours.seconds:.1f}×",
            )
            for name, run in results
        ]
        print(markdown_table(("", "wall s", "peak RSS MiB", "time ÷ pullstats"), rows))
        compared = "all three" if pandas else "pullstats and (a)"
        print(
            f"\n{args.actions:,} actions, October 2026; pullstats wrote "
            f"{sum(len(v) for v in produced.values())} files of the four views "
            f"({len(produced['raw'])} raw parts, {raw_bytes / 2**20:,.0f} MiB of raw gzip) and "
            f"{len(others)} more the baselines do not write ({', '.join(sorted(set(others)))}: "
            f"Docker's reports), in its time above; the four views' rows of {compared} "
            + ("compared and equal" if check else "not compared (--check yes compares them)")
        )
        runtime.close()
    finally:
        if args.keep:
            print(f"\ndata dir kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
