"""Every route a client or the dashboard calls, under wrk, against a trivial page in one run.

    python benchmarks/api_routes.py [--repos 200] [--seconds 5] [--database-url URL] [--workers N]

Builds a data dir with a year of actions for one 200-repository namespace (the dashboard
benchmark's data: countries, clouds, network types, client tools), rolls it up, closes and
exports its weeks and months, serves it with ``pullstats serve`` (``--workers`` processes; more
than one needs a PostgreSQL catalog, ``--database-url``), signs in, and runs wrk at 64
connections on each route in turn, for ``--seconds`` each:

- the baselines: two trivial pages of the same server, a static file (``/static/…``) and the
  sign-in form; the faster of the two (by requests/s) is the bar;
- every read route of the DVP API with a bearer token (discovery, namespaces, the three pull
  routes with their common parameters, the export listings, one period, one view's links), a
  signed download of a small export file, the dashboard's overview and exports pages with the
  session cookie, ``/healthz`` and ``/metrics``.

Target (issue 20): each read route's p99 within 2x the bar's p99, and its requests/s at least
half the bar's. Then logins, which argon2 bounds: one at a time with a password and with a
personal access token (p50, p99), and a login flood (8 senders, password) while wrk runs on the
default pull route, against that route alone in the same run, to show that logins run in a
bounded pool and do not slow the other routes.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from _common import (
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
from dashboard_overview import NAMESPACE, PASSWORD, USER, load_year, sign_in
from pydantic import SecretStr

from pullstats.accounts import service
from pullstats.accounts.tokens import create_pat
from pullstats.config import Settings
from pullstats.runtime import Runtime

API = "/api/publisher/analytics/v1"
CONNECTIONS = 64
FLOOD_SENDERS = 8


def read_routes(base: str, year: int, month: int, week: int) -> dict[str, str]:
    """The bearer-token read routes, by the name the table shows."""
    ns = f"{API}/namespaces/{NAMESPACE}"
    exports = f"{ns}/pulls/exports/years"
    ten = "&".join(f"repos={NAMESPACE}/repo-{i:03d}" for i in range(10))
    routes = {
        "discovery `GET …/v1/`": f"{API}/",
        "`GET /namespaces`": f"{API}/namespaces",
        "`GET /namespaces/{ns}`": ns,
        "`…/{ns}/pulls` (default: months, last 12)": f"{ns}/pulls",
        "`…/{ns}/pulls?timespan=weeks`": f"{ns}/pulls?timespan=weeks",
        "`…/{ns}/pulls?group=repo`": f"{ns}/pulls?group=repo",
        "`…/{ns}/pulls?breakdown=country`": f"{ns}/pulls?breakdown=country",
        "`…/repos/{repo}/pulls`": f"{ns}/repos/repo-000/pulls",
        "`…/repos/{repo}/pulls?timespan=weeks`": f"{ns}/repos/repo-000/pulls?timespan=weeks",
        "`GET /repos/pulls`, 10 repositories": f"{API}/repos/pulls?{ten}",
        "exports: years": exports,
        "exports: a year's months": f"{exports}/{year}/months",
        "exports: a year's weeks": f"{exports}/{year}/weeks",
        "exports: one month": f"{exports}/{year}/months/{month}",
        "exports: one month's raw view (links)": f"{exports}/{year}/months/{month}/raw",
        "exports: one week's summary view (links)": f"{exports}/{year}/weeks/{week}/summary",
    }
    return {name: base + path for name, path in routes.items()}


def newest_periods(client: httpx.Client, base: str) -> tuple[int, int, int]:
    """(year, month, week) of the newest exported month and week."""
    exports = f"{base}{API}/namespaces/{NAMESPACE}/pulls/exports/years"
    year = max(y["year"] for y in client.get(exports).json()["years"])
    month = max(m["month"] for m in client.get(f"{exports}/{year}/months").json()["months"])
    week = max(w["week"] for w in client.get(f"{exports}/{year}/weeks").json()["weeks"])
    return year, month, week


def small_download(client: httpx.Client, base: str, year: int, month: int) -> str:
    """The signed link of the month's namespace-summary file (a small one), as wrk may fetch it
    (the path and query: wrk is pointed at the server's own address)."""
    links = client.get(
        f"{base}{API}/namespaces/{NAMESPACE}/pulls/exports/years/{year}/months/{month}"
        "/namespace-summary"
    ).json()["data"]
    parts = urlsplit(links[0]["url"])
    assert client.get(f"{base}{parts.path}?{parts.query}").status_code == 200
    return f"{base}{parts.path}?{parts.query}"


def timed_logins(base: str, body: dict[str, str], count: int) -> list[float]:
    """Milliseconds of ``count`` logins one after another, sorted."""
    times = []
    with httpx.Client(timeout=60) as client:
        for _ in range(count):
            began = time.perf_counter()
            answer = client.post(f"{base}/v2/users/login", json=body)
            times.append((time.perf_counter() - began) * 1000)
            assert answer.status_code == 200, answer.text
    return sorted(times)


def login_flood(base: str, stop: threading.Event, done: list[float]) -> None:
    """Password logins back to back until ``stop``; each one's milliseconds into ``done``."""
    with httpx.Client(timeout=120) as client:
        while not stop.is_set():
            began = time.perf_counter()
            answer = client.post(
                f"{base}/v2/users/login", json={"username": USER, "password": PASSWORD}
            )
            if answer.status_code == 200:
                done.append((time.perf_counter() - began) * 1000)


def with_flood(binary: str, url: str, token: str, seconds: float, threads: int) -> tuple[
    dict[str, float], list[float]
]:  # fmt: skip
    """wrk on ``url`` while :data:`FLOOD_SENDERS` senders log in with a password."""
    stop, done = threading.Event(), []  # type: ignore[var-annotated]
    senders = [
        threading.Thread(target=login_flood, args=(url.split(API)[0], stop, done))
        for _ in range(FLOOD_SENDERS)
    ]
    for sender in senders:
        sender.start()
    time.sleep(1)  # the pool is busy before wrk starts
    try:
        result = wrk(binary, url, token, CONNECTIONS, seconds, threads)
    finally:
        stop.set()
        for sender in senders:
            sender.join()
    return result, sorted(done)


def settle(url: str, timeout: float = 60) -> None:
    """Wait until ``url`` answers three times in a row within 20 ms: the server has worked off
    what the previous run left queued."""
    deadline, quick = time.monotonic() + timeout, 0
    with httpx.Client(timeout=timeout) as client:
        while quick < 3 and time.monotonic() < deadline:
            started = time.perf_counter()
            client.get(url)
            quick = quick + 1 if time.perf_counter() - started < 0.02 else 0


def cookie_header(client: httpx.Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--per-repo-day", type=int, default=2, help="actions per repo per day")
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (see api_pulls.py)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--logins", type=int, default=20, help="sequential logins of each kind")
    add_database_url(parser)
    args = parser.parse_args()
    if args.workers > 1 and not args.database_url:
        sys.exit("--workers > 1 needs --database-url (a PostgreSQL catalog)")
    print_environment(
        "python benchmarks/api_routes.py " + " ".join(shown_arguments(args.database_url))
    )
    binary = ensure_wrk()
    catalog = catalog_env(args.database_url)
    with tempfile.TemporaryDirectory(prefix="pullstats-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        url = SecretStr(args.database_url) if args.database_url else None
        runtime = Runtime.open(Settings(data_dir=data_dir, database_url=url))
        with runtime.sessions.begin() as session:
            service.create_namespace(session, NAMESPACE)
            service.create_user(session, USER, PASSWORD)
            service.add_member(session, NAMESPACE, USER, "member")
            pat = create_pat(session, USER, "bench").text
        print(
            f"{load_year(runtime, args.repos, args.per_repo_day)}; server workers: {args.workers}\n"
        )
        runtime.close()
        process, base = start_server(data_dir, Path(tmp) / "server.log", args.workers, **catalog)
        try:
            results, logins = run_routes(binary, base, pat, args)
        finally:
            process.terminate()
            process.wait(timeout=30)
    report(results, logins)


def run_routes(
    binary: str, base: str, pat: str, args: argparse.Namespace
) -> tuple[dict[str, tuple[dict[str, float], str]], dict[str, list[float]]]:
    """wrk on every route; {name: (wrk result, kind)} and the login timings."""
    with httpx.Client(timeout=60) as client:
        token = client.post(
            f"{base}/v2/users/login", json={"username": USER, "password": PASSWORD}
        ).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        year, month, week = newest_periods(client, base)
        download = small_download(client, base, year, month)
        routes = read_routes(base, year, month, week)
        for address in routes.values():  # every route answers, before anything is timed
            answer = client.get(address)
            assert answer.status_code == 200, (address, answer.status_code, answer.text[:300])
    with httpx.Client(timeout=60) as browser:
        sign_in(browser, base)
        cookie = cookie_header(browser)
        css = re.search(r'href="(/static/[^"]+\.css[^"]*)"', browser.get(f"{base}/").text)
        assert css, "the overview names no stylesheet"
        static = base + css.group(1)
    seconds, threads = args.seconds, args.threads

    def run(url: str, token: str | None = None, cookie: str | None = None) -> dict[str, float]:
        # a slow route leaves up to 64 requests queued when wrk stops: wait them out first,
        # or the next route's p99 measures the last one's backlog
        settle(f"{base}/healthz")
        return wrk(binary, url, token, CONNECTIONS, seconds, threads, cookie=cookie)

    results: dict[str, tuple[dict[str, float], str]] = {}
    results["baseline: a static file (`/static/…css`)"] = (run(static), "baseline")
    results["baseline: the sign-in form (`/signin`)"] = (run(f"{base}/signin"), "baseline")
    for name, address in routes.items():
        results[name] = (run(address, token), "read")
    results["signed download (namespace-summary, one month)"] = (run(download), "read")
    for name, path in (("dashboard: overview `/`", "/"), ("dashboard: exports page", "/exports")):
        results[name] = (run(base + path, cookie=cookie), "read")
    results["`/healthz`"] = (run(f"{base}/healthz"), "read")
    results["`/metrics`"] = (run(f"{base}/metrics"), "read")
    logins = {
        "password": timed_logins(base, {"username": USER, "password": PASSWORD}, args.logins),
        "personal access token": timed_logins(
            base, {"username": USER, "password": pat}, args.logins
        ),
    }
    pulls = routes["`…/{ns}/pulls` (default: months, last 12)"]
    alone = run(pulls, token)
    settle(f"{base}/healthz")
    flooded, flood_logins = with_flood(binary, pulls, token, seconds, threads)
    results["`…/{ns}/pulls` again, alone"] = (alone, "flood")
    results[f"the same while {FLOOD_SENDERS} senders log in with a password"] = (flooded, "flood")
    logins["password, during the flood"] = flood_logins
    return results, logins


def report(
    results: dict[str, tuple[dict[str, float], str]], logins: dict[str, list[float]]
) -> None:
    baselines = {name: r for name, (r, kind) in results.items() if kind == "baseline"}
    bar_name, bar = max(baselines.items(), key=lambda item: item[1]["rps"])
    rows, missed = [], []
    for name, (result, kind) in results.items():
        ratio_p99 = result["p99"] / bar["p99"]
        ratio_rps = result["rps"] / bar["rps"]
        verdict = ""
        if kind == "read":
            met = ratio_p99 <= 2 and ratio_rps >= 0.5
            verdict = "yes" if met else "**no**"
            if not met:
                missed.append(name)
        elif name == bar_name:
            verdict = "(the bar)"
        rows.append(
            (
                name,
                f"{result['rps']:,.0f}",
                f"{result['p50']:.2f}",
                f"{result['p99']:.2f}",
                f"{ratio_p99:.2f}",
                f"{ratio_rps:.2f}",
                verdict,
            )
        )
    print(
        markdown_table(
            ("route", "req/s", "p50 ms", "p99 ms", "p99 / bar", "req/s / bar", "met?"), rows
        )
    )
    print()
    print(
        markdown_table(
            ("login", "count", "p50 ms", "p99 ms", "mean ms"),
            [
                (
                    kind,
                    len(times),
                    f"{percentile(times, 50):.1f}",
                    f"{percentile(times, 99):.1f}",
                    f"{statistics.fmean(times):.1f}",
                )
                for kind, times in logins.items()
                if times
            ],
        )
    )
    print(
        f"\ntarget: every read route's p99 <= 2x and req/s >= 0.5x the bar ({bar_name}): "
        + ("met" if not missed else f"NOT met by {len(missed)}: " + "; ".join(missed))
    )
    sys.exit(0 if not missed else 1)


if __name__ == "__main__":
    main()
