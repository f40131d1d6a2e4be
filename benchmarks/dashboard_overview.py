"""The dashboard's pages: server time and size for a 200-repository namespace.

    python benchmarks/dashboard_overview.py [--repos 200] [--requests 200]

Builds a data dir with twelve months of actions for one namespace (written straight as action
Parquet with varied countries, clouds, network types and client tools, then rolled up by
pullstats itself: pull, country and breakdown rollups; then ``process`` and ``export`` write
the closed weeks and months), serves it with ``pullstats serve``, signs in through the sign-in
form (a real session cookie) and, in one run, alternating:

- baseline: a trivial page of the same server (``/healthz``), the same number of times;
- the overview ``GET /`` (namespace total, months, last 12 months), the overview with
  ``timespan=weeks`` and 10 repositories selected, and with 50, the most a view may select;
- the exports page ``GET /exports`` (the newest year's weeks and months, four views each).

Server time is the handler's own ``Server-Timing: app;dur=…`` (the dashboard pages) and the
time to the answer seen by the client (all); the page size is the body's bytes as sent (no
compression: the server sends none). Targets (issue 17): the overview's p95 < 300 ms; every
page < 200 KB.
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
from _common import actions_table, markdown_table, percentile, print_environment, start_server

from pullstats.accounts import service
from pullstats.api.dashboard.overview_data import MAX_REPOS
from pullstats.config import Settings
from pullstats.exports.closing import export_closed
from pullstats.pipeline import process as process_lake
from pullstats.rollups.compute import periods_of_days, rollup_periods
from pullstats.runtime import Runtime

NAMESPACE = "bench"
USER = "bench"
PASSWORD = "bench-password-1"
ACTIONS = ("pull_by_tag", "pull_by_digest", "version_check")
COUNTRIES = ("US", "DE", "FR", "GB", "JP", "IN", "BR", "CA", "NL", "SG", "")
HOSTS = ("aws", "gcp", "azure", "hetzner", "")
TYPES = ("hosting", "isp", "business", "education", "")
TOOLS = (("docker", "27.3.1"), ("docker", "26.1.4"), ("containerd", "1.7.22"), ("podman", "5.2.0"))


def write_year(
    runtime: Runtime, repos: int, per_repo_day: int, seed: int, days_back: int = 380
) -> int:
    """Twelve months and this month's days of actions (``days_back`` days before today, and
    today), ``per_repo_day`` per repo per day; how many were written."""
    rng = np.random.default_rng(seed)
    names = np.array([f"repo-{i:03d}" for i in range(repos)])
    tags = np.array(["latest", "1.0", "1.1", "2.0", "2.1", "sha256:" + "ab" * 32])
    ips = rng.integers(0, 2**63, size=50_000).astype(np.int64)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in range(days_back, -1, -1)]
    total = 0
    for day in days:
        count = int(rng.poisson(repos * per_repo_day))
        start = datetime.combine(day, datetime.min.time(), UTC)
        micros = np.sort(rng.integers(0, 86_400_000_000, size=count))
        timestamps = pa.array(
            [start + timedelta(microseconds=int(m)) for m in micros], pa.timestamp("us")
        )

        def pick(values: tuple[str, ...] | np.ndarray, n: int = count) -> pa.Array:
            return pa.array(
                np.asarray(values)[np.minimum(rng.zipf(1.6, size=n) - 1, len(values) - 1)]
            )

        repo = names[np.minimum(rng.zipf(1.3, size=count) - 1, repos - 1)]
        reference = pick(tags)
        action = np.array(ACTIONS)[rng.choice(3, size=count, p=[0.7, 0.1, 0.2])]
        tool = rng.integers(0, len(TOOLS), size=count)
        ip = ips[rng.zipf(1.2, size=count) % len(ips)]
        table = actions_table(
            count,
            {
                "timestamp": timestamps,
                "action_day": pa.array([day] * count, pa.date32()),
                "namespace": pa.array([NAMESPACE] * count),
                "repository": pa.array(repo),
                "reference": reference,
                "digest": pa.array(["sha256:" + "0" * 64] * count),
                "tag": reference,
                "http_method": pa.array(np.where(action == "version_check", "HEAD", "GET")),
                "action": pa.array(action),
                "type": pick(TYPES),
                "host": pick(HOSTS),
                "country": pick(COUNTRIES),
                "domain": pa.array([""] * count),
                "user_agent_tool": pa.array([TOOLS[i][0] for i in tool]),
                "user_agent_version": pa.array([TOOLS[i][1] for i in tool]),
                "user_agent": pa.array([f"{TOOLS[i][0]}/{TOOLS[i][1]}" for i in tool]),
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


def sign_in(client: httpx.Client, base: str) -> None:
    """Through the real form: its CSRF token, the Origin check, the session cookie."""
    form = client.get(f"{base}/signin").text
    token = re.search(r'name="csrf_token" value="([^"]*)"', form)
    assert token, "no csrf_token in the sign-in form"
    answer = client.post(
        f"{base}/signin",
        data={"csrf_token": token.group(1), "next": "/", "username": USER, "secret": PASSWORD},
        headers={"Origin": base},
    )
    assert answer.status_code in (200, 303), answer.text[:500]
    assert "pullstats_session" in client.cookies, "sign-in set no session cookie"


def timed(client: httpx.Client, url: str) -> tuple[float, float | None, int]:
    """(client ms, the handler's Server-Timing ms or None, body bytes) of one GET."""
    started = time.perf_counter()
    answer = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
    header = re.search(r"app;dur=([\d.]+)", answer.headers.get("server-timing", ""))
    return elapsed, float(header.group(1)) if header else None, len(answer.content)


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{percentile(ordered, 50):.1f} / {percentile(ordered, 95):.1f}"


def load_year(runtime: Runtime, repos: int, per_repo_day: int) -> str:
    """A year of actions for ``repos`` repositories, rolled up and exported; what was loaded."""
    started = time.perf_counter()
    actions = write_year(runtime, repos, per_repo_day, seed=7)
    process_lake(runtime)  # nothing to compact: it moves the watermark the periods close by
    exported = export_closed(runtime)
    return (
        f"loaded {actions:,} actions and their rollups, exported "
        f"{len(exported.exported)} namespace periods, in {time.perf_counter() - started:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--per-repo-day", type=int, default=2, help="actions per repo per day")
    parser.add_argument("--requests", type=int, default=200, help="renders of each page")
    args = parser.parse_args()
    if args.repos < MAX_REPOS:
        sys.exit(
            f"--repos {args.repos}: the overview is also measured with {MAX_REPOS} repositories "
            f"selected (the most a view may select); pass --repos {MAX_REPOS} or more"
        )
    print_environment()
    with tempfile.TemporaryDirectory(prefix="pullstats-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        runtime = Runtime.open(Settings(data_dir=data_dir))
        with runtime.sessions.begin() as session:
            service.create_namespace(session, NAMESPACE)
            service.create_user(session, USER, PASSWORD)
            service.add_member(session, NAMESPACE, USER, "member")
        print(load_year(runtime, args.repos, args.per_repo_day) + "\n")
        runtime.close()
        process, base = start_server(data_dir, Path(tmp) / "server.log")
        try:
            with httpx.Client(timeout=30) as client:
                sign_in(client, base)
                repos = "&".join(f"repo={NAMESPACE}/repo-{i:03d}" for i in range(10))
                # the most a view may select (more is a 400 saying so)
                most = "&".join(f"repo={NAMESPACE}/repo-{i:03d}" for i in range(MAX_REPOS))
                pages = {
                    "trivial page (`/healthz`)": f"{base}/healthz",
                    "overview: namespace total, months, 12 months": f"{base}/",
                    "overview: 10 repositories, weeks, 12 months": (
                        f"{base}/?{repos}&timespan=weeks&period=last-12-months"
                    ),
                    f"overview: {MAX_REPOS} repositories (the most), weeks, 12 months": (
                        f"{base}/?{most}&timespan=weeks&period=last-12-months"
                    ),
                    "exports page: newest year": f"{base}/exports",
                }
                for url in pages.values():  # warm up: imports, template compilation
                    timed(client, url)
                results: dict[str, list[tuple[float, float | None, int]]] = {
                    name: [] for name in pages
                }
                for _ in range(args.requests):  # alternating, so load hits all alike
                    for name, url in pages.items():
                        results[name].append(timed(client, url))
        finally:
            process.terminate()
            process.wait(timeout=30)
    rows = []
    for name, runs in results.items():
        server = [s for _, s, _ in runs if s is not None]
        rows.append(
            (
                name,
                summary([c for c, _, _ in runs]),
                summary(server) if server else "—",
                f"{runs[-1][2] / 1024:.1f} KiB",
            )
        )
    print(
        markdown_table(
            ("page", "client ms p50 / p95", "server ms p50 / p95 (Server-Timing)", "size"), rows
        )
    )
    worst = max(
        percentile(sorted(s for _, s, _ in runs if s is not None), 95)
        for name, runs in results.items()
        if name.startswith("overview")
    )
    biggest = max(runs[-1][2] for name, runs in results.items() if not name.startswith("trivial"))
    verdict = worst < 300 and biggest < 200 * 1024
    print(
        "\ntargets: overview server p95 < 300 ms, every page < 200 KB: "
        + ("met" if verdict else "NOT met")
    )
    sys.exit(0 if verdict else 1)


if __name__ == "__main__":
    main()
