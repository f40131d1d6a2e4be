"""Pull-series API under load: wrk against a year of rollups for a 1,000-repository namespace.

    python benchmarks/api_pulls.py [--repos 1000] [--seconds 10] [--threads 1]

Builds a data dir with one year of actions for one namespace (written straight as action
Parquet, then rolled up by pullstats itself), serves it, logs in, and measures in one run:

- baselines: wrk on two trivial answers of the same server, a static file (the stylesheet the
  sign-in page links, ``/static/…css``) and ``/healthz``; the faster is the bar;
- (a) the default ``GET /namespaces/{ns}/pulls`` at 64 connections
  (targets: p99 < 10 ms, at least half the bar's requests/s);
- (b) ``GET /repos/pulls`` for 50 repositories, ``timespan=weeks&period=last-12-months``
  (≈ 2,600 rows): warm at 8 connections (target p99 < 50 ms), and cold — the first answer to
  each of 40 distinct repository sets, one at a time (so ``--repos`` must be more than 50).

wrk runs with one thread by default: the server is one process with one event loop, so on two
cores it keeps a core of its own; with ``--threads 2`` wrk contends with it for both cores.
wrk comes from Debian's package; as root the benchmark installs it when it is missing.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _common import (
    actions_table,
    add_database_url,
    catalog_env,
    ensure_wrk,
    markdown_table,
    percentile,
    print_environment,
    shown_arguments,
    start_server,
    wrk,
)
from pydantic import SecretStr

from pullstats.accounts import service
from pullstats.config import Settings
from pullstats.rollups.compute import periods_of_days, rollup_periods
from pullstats.runtime import Runtime

NAMESPACE = "bench"
PASSWORD = "bench-password"
ACTIONS = ("pull_by_tag", "pull_by_digest", "version_check")


def write_year(
    runtime: Runtime, repos: int, per_repo_day: int, seed: int, days_back: int = 365
) -> int:
    """One year (``days_back`` days) of actions up to yesterday, ``per_repo_day`` per
    repository per day on average; how many were written."""
    rng = np.random.default_rng(seed)
    names = np.array([f"repo-{i:04d}" for i in range(repos)])
    tags = np.array(["latest", "1.0", "1.1", "2.0", "2.1"])
    ips = rng.integers(0, 2**63, size=50_000).astype(np.int64)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in range(days_back, 0, -1)]
    total = 0
    for day in days:
        count = int(rng.poisson(repos * per_repo_day))
        start = datetime.combine(day, datetime.min.time(), UTC)
        micros = np.sort(rng.integers(0, 86_400_000_000, size=count))
        timestamps = pa.array(
            [start + timedelta(microseconds=int(m)) for m in micros], pa.timestamp("us")
        )
        repo = names[np.minimum(rng.zipf(1.3, size=count) - 1, repos - 1)]
        tag = tags[rng.integers(0, len(tags), size=count)]
        action = np.array(ACTIONS)[rng.choice(3, size=count, p=[0.7, 0.1, 0.2])]
        ip = ips[rng.zipf(1.2, size=count) % len(ips)]
        text = pa.array([""] * count, pa.string())
        table = actions_table(
            count,
            {
                "timestamp": timestamps,
                "action_day": pa.array([day] * count, pa.date32()),
                "namespace": pa.array([NAMESPACE] * count),
                "repository": pa.array(repo),
                "reference": pa.array(tag),
                "digest": pa.array(["sha256:" + "0" * 64] * count),
                "tag": pa.array(tag),
                "http_method": pa.array(np.where(action == "version_check", "HEAD", "GET")),
                "action": pa.array(action),
                "type": text,
                "host": text,
                "country": text,
                "domain": text,
                "user_agent_tool": pa.array(["docker"] * count),
                "user_agent_version": pa.array(["27.3.1"] * count),
                "user_agent": pa.array(["docker/27.3.1"] * count),
                "ip_hash": pa.array([int(v).to_bytes(8, "little") * 2 for v in ip], pa.binary()),
                "ruleset_version": pa.array([1] * count, pa.int16()),
            },
        )
        folder = runtime.paths.actions_day(day)
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / "actions.parquet", compression="zstd")
        total += count
    rollup_periods(runtime, periods_of_days(days))
    return total


COLD_SETS = 40
SET_SIZE = 50


def cold_sets(repos: int, seed: int = 11) -> list[list[str]]:
    """``COLD_SETS`` distinct sets of ``SET_SIZE`` repository names, none of them the warm set
    (the first ``SET_SIZE``): each is a first answer, not one the server has cached."""
    if repos <= SET_SIZE:
        sys.exit(
            f"--repos {repos}: the cold row needs {COLD_SETS} distinct sets of {SET_SIZE} "
            f"repositories besides the warm one; pass --repos {SET_SIZE + 1} or more"
        )
    rng = np.random.default_rng(seed)
    warm = frozenset(range(SET_SIZE))
    chosen: list[frozenset[int]] = []
    while len(chosen) < COLD_SETS:
        pick = frozenset(int(i) for i in rng.choice(repos, SET_SIZE, replace=False))
        if pick != warm and pick not in chosen:
            chosen.append(pick)
    return [[f"repo-{i:04d}" for i in sorted(pick)] for pick in chosen]


def repo_query(base: str, repos: list[str]) -> str:
    names = "&".join(f"repos={NAMESPACE}/{name}" for name in repos)
    query = f"{names}&timespan=weeks&period=last-12-months"
    return f"{base}/api/publisher/analytics/v1/repos/pulls?{query}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--per-repo-day", type=int, default=2, help="actions per repo per day")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="wrk threads; with one, the server (one process, one event loop) keeps a core of "
        "its own on a two-core machine, while a second wrk thread would contend with it",
    )
    add_database_url(parser)
    args = parser.parse_args()
    catalog = catalog_env(args.database_url)
    print_environment(
        "python benchmarks/api_pulls.py " + " ".join(shown_arguments(args.database_url))
    )
    sets = cold_sets(args.repos)
    binary = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="pullstats-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        url = SecretStr(args.database_url) if args.database_url else None
        runtime = Runtime.open(Settings(data_dir=data_dir, database_url=url))
        with runtime.sessions.begin() as session:
            service.create_namespace(session, NAMESPACE)
            service.create_user(session, "bench", PASSWORD)
            service.add_member(session, NAMESPACE, "bench", "member")
        started = time.perf_counter()
        actions = write_year(runtime, args.repos, args.per_repo_day, seed=7)
        elapsed = time.perf_counter() - started
        print(f"loaded {actions:,} actions and their rollups in {elapsed:.1f} s\n")
        runtime.close()
        process, base = start_server(data_dir, Path(tmp) / "server.log", **catalog)
        try:
            token = httpx.post(
                f"{base}/v2/users/login", json={"username": "bench", "password": PASSWORD}
            ).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            series = f"{base}/api/publisher/analytics/v1/namespaces/{NAMESPACE}/pulls"
            rows = len(httpx.get(series, headers=headers).json()["pulls"])
            # a static file, as api_routes.py's baseline (``/`` is the dashboard's redirect to
            # the sign-in page, which wrk would count as a success)
            css = re.search(r'href="(/static/[^"]+\.css[^"]*)"', httpx.get(f"{base}/signin").text)
            assert css, "the sign-in page names no stylesheet"
            static = base + css.group(1)
            assert httpx.get(static).status_code == 200, static
            # the bar is the faster of two trivial answers of the same server: the static
            # file, and /healthz (no file read: a static file is read from disk each time)
            baselines = {
                "baseline: GET /static/…css (a static file)": wrk(
                    binary, static, None, 64, args.seconds, args.threads
                ),
                "baseline: GET /healthz": wrk(
                    binary, f"{base}/healthz", None, 64, args.seconds, args.threads
                ),
            }
            trivial = max(baselines.values(), key=lambda result: result["rps"])
            # authentication alone: the viewer is resolved, nothing is read from the rollups
            auth_only = wrk(
                binary,
                f"{base}/api/publisher/analytics/v1/namespaces",
                token,
                64,
                args.seconds,
                args.threads,
            )
            default = wrk(binary, series, token, 64, args.seconds, args.threads)
            with httpx.Client(headers=headers, timeout=60) as client:
                cold = []
                for names in sets:
                    began = time.perf_counter()
                    answer = client.get(repo_query(base, names))
                    cold.append((time.perf_counter() - began) * 1000)
                    assert answer.status_code == 200, answer.text
                weekly = answer.json()["repos"]
                weekly_rows = sum(len(v["pulls"]) for v in weekly.values())
                warm_url = repo_query(base, [f"repo-{i:04d}" for i in range(SET_SIZE)])
                client.get(warm_url)
            warm = wrk(binary, warm_url, token, 8, args.seconds, args.threads)
        finally:
            process.terminate()
            process.wait()
    cold.sort()
    print(
        markdown_table(
            ("measurement", "connections", "requests/s", "p50 ms", "p99 ms", "target"),
            [
                *(
                    (
                        name,
                        64,
                        f"{result['rps']:,.0f}",
                        f"{result['p50']:.2f}",
                        f"{result['p99']:.2f}",
                        "the bar (the faster)" if result is trivial else "",
                    )
                    for name, result in baselines.items()
                ),
                (
                    "diagnostic: GET /namespaces (authentication only)",
                    64,
                    f"{auth_only['rps']:,.0f}",
                    f"{auth_only['p50']:.2f}",
                    f"{auth_only['p99']:.2f}",
                    "",
                ),
                (
                    f"(a) GET /namespaces/{{ns}}/pulls ({rows} rows)",
                    64,
                    f"{default['rps']:,.0f}",
                    f"{default['p50']:.2f}",
                    f"{default['p99']:.2f}",
                    f"p99 < 10 ms; ≥ {trivial['rps'] / 2:,.0f} req/s "
                    f"(ratio {default['rps'] / trivial['rps']:.2f})",
                ),
                (
                    f"(b) GET /repos/pulls, 50 repos, weeks ({weekly_rows} rows), warm",
                    8,
                    f"{warm['rps']:,.0f}",
                    f"{warm['p50']:.2f}",
                    f"{warm['p99']:.2f}",
                    "p99 < 50 ms",
                ),
                (
                    f"(b) the same, cold ({COLD_SETS} distinct sets, one at a time)",
                    1,
                    f"{1000 / (sum(cold) / len(cold)):,.0f}",
                    f"{percentile(cold, 50):.2f}",
                    f"{percentile(cold, 99):.2f}",
                    "reported",
                ),
            ],
        )
    )


if __name__ == "__main__":
    main()
