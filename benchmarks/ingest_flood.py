"""Ingest flood: does `/healthz` keep answering while senders flood maximal envelopes?

Run (from the repository root):

    python benchmarks/ingest_flood.py --seconds 20

Starts `pullstats serve` on a free loopback port over a fresh temporary data dir (with an ingest
token made by the CLI), then, one after the other:

(a) baseline: `/healthz` latency of the idle server, one probe every `--interval` seconds;
(b) `--senders` (8) threads each posting maximal *real* envelopes (as many Distribution pull
    events as the server allows, `PULLSTATS_INGEST_MAX_EVENTS`, padded to just under
    `PULLSTATS_INGEST_MAX_BODY_BYTES`) back to back over keep-alive connections, for
    `--seconds` or `--envelopes` envelopes per sender, whichever ends first, while the same
    probe runs: its p50/p99/max (target: p99 < 50 ms);
(c) the same with maximal *hostile* envelopes: the body limit filled with the smallest events
    there are (`{}`, about 5.6 million in 16 MiB), which the server refuses with 413 once it
    has parsed the body. `--skip-hostile` leaves it out (a server without the event bound
    handles each of them for tens of seconds, in gigabytes).

Each phase reports the probe's latency, the envelopes answered by status, and the largest
resident memory the server and its children (the envelope worker) reached, sampled from /proc.

`--source DIR` serves another checkout's `src/` (e.g. a `git worktree` of an older commit) with
this environment, to measure code from before a change the same way.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _common import (
    cli_env,
    markdown_table,
    percentile,
    print_environment,
    pullstats_command,
    start_server,
)

INGEST = "/ingest/v1/registry/events"
MAX_BODY = 16 * 1024 * 1024
MAX_EVENTS = 10_000
MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"


def real_envelope(events: int, size: int) -> bytes:
    """``events`` Distribution pull events whose user agents pad the body to about ``size``."""
    when = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def event(i: int, ua: str) -> dict[str, object]:
        return {
            "id": f"{i:08d}-flood-0000-0000-000000000000",
            "timestamp": when,
            "action": "pull",
            "target": {
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "size": 1234,
                "digest": "sha256:" + "a" * 64,
                "length": 1234,
                "repository": "acme/api",
                "url": "https://registry.example.com/v2/acme/api/manifests/1.0",
                "tag": "1.0",
            },
            "request": {
                "id": f"{i:08d}-req",
                "addr": f"198.51.100.{i % 250}:40000",
                "host": "registry.example.com",
                "method": "GET",
                "useragent": ua,
            },
            "actor": {},
            "source": {"addr": "registry-0:5000", "instanceID": "flood"},
        }

    bare = len(json.dumps(event(0, ""), separators=(",", ":"))) + 1
    ua_length = max(0, min(1024, (size - 16) // events - bare - 2))
    ua = "docker/27.3.1 " + "x" * max(0, ua_length - 14)
    body = {"events": [event(i, ua) for i in range(events)]}
    return json.dumps(body, separators=(",", ":")).encode()


def hostile_envelope(size: int) -> bytes:
    count = (size - 16) // 3
    return b'{"events":[' + b",".join([b"{}"] * count) + b"]}"


@dataclass
class Probe:
    """Sequential GET /healthz on one keep-alive connection, one every ``interval`` seconds."""

    host: str
    port: int
    interval: float
    latencies: list[float] = field(default_factory=list)
    started: list[float] = field(default_factory=list)  # monotonic start of each probe
    failures: int = 0

    def run(self, stop: threading.Event) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        while not stop.is_set():
            started = time.perf_counter()
            try:
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
            elapsed = time.perf_counter() - started
            if ok:
                self.latencies.append(elapsed)
                self.started.append(time.monotonic() - elapsed)
            else:
                self.failures += 1
            time.sleep(max(0.0, self.interval - elapsed))
        connection.close()


def probe_process(
    host: str, port: int, interval: float, ready: Any, stop: Any, results: Connection
) -> None:
    """A :class:`Probe` in a process of its own, so the senders' threads cannot delay it."""
    probe = Probe(host, port, interval)
    done = threading.Event()

    def watch() -> None:
        stop.wait()
        done.set()

    threading.Thread(target=watch, daemon=True).start()
    ready.set()
    probe.run(done)
    results.send((probe.latencies, probe.started, probe.failures))
    results.close()


def sender(
    host: str, port: int, token: str, body: bytes, until: float, limit: int, statuses: Counter[int]
) -> None:
    connection = http.client.HTTPConnection(host, port, timeout=600)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": MEDIA_TYPE}
    sent = 0
    while time.monotonic() < until and sent < limit:
        try:
            connection.request("POST", INGEST, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            statuses[response.status] += 1
        except (OSError, http.client.HTTPException):
            statuses[0] += 1
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=600)
        sent += 1
    connection.close()


def tree_rss_mb(pid: int) -> tuple[float, float]:
    """Resident MB of ``pid`` and of all its descendants together."""

    def rss(p: int) -> float:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def children(p: int) -> list[int]:
        found: list[int] = []
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                found += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
        return found

    own = rss(pid)
    stack, descendants = children(pid), 0.0
    while stack:
        child = stack.pop()
        descendants += rss(child)
        stack += children(child)
    return own, descendants


@dataclass
class Phase:
    name: str
    latencies: list[float]
    failures: int
    statuses: Counter[int]
    seconds: float
    server_mb: float
    children_mb: float

    def row(self) -> list[object]:
        values = sorted(self.latencies)
        ms = [f"{percentile(values, q) * 1000:.1f}" for q in (50, 99)]
        answered = ", ".join(f"{n}× {s or 'error'}" for s, n in sorted(self.statuses.items()))
        return [
            self.name,
            len(values),
            self.failures,
            *ms,
            f"{max(values) * 1000:.1f}" if values else "–",
            answered or "–",
            f"{self.seconds:.1f}",
            f"{self.server_mb:.0f} / {self.children_mb:.0f}",
        ]


def run_phase(
    name: str,
    server: subprocess.Popen[bytes],
    url: str,
    token: str,
    body: bytes | None,
    args: argparse.Namespace,
) -> Phase:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    receiver, results = context.Pipe(duplex=False)
    prober = context.Process(
        target=probe_process,
        args=(host, port, args.interval, ready, stop, results),
        daemon=True,
    )
    statuses: Counter[int] = Counter()
    prober.start()
    ready.wait()
    started = time.monotonic()
    senders = []
    if body is not None:
        until = started + args.seconds
        senders = [
            threading.Thread(
                target=sender, args=(host, port, token, body, until, args.envelopes, statuses)
            )
            for _ in range(args.senders)
        ]
        for thread in senders:
            thread.start()
    peak_server = peak_children = 0.0
    while True:
        own, descendants = tree_rss_mb(server.pid)
        peak_server, peak_children = max(peak_server, own), max(peak_children, descendants)
        if body is None:
            if time.monotonic() - started >= args.baseline_seconds:
                break
        elif not any(thread.is_alive() for thread in senders):
            break
        time.sleep(0.05)
    stop.set()
    latencies, probe_starts, failures = receiver.recv()
    worst = sorted(zip(latencies, probe_starts, strict=True), reverse=True)[:3]
    print(
        f"{name}: slowest probes "
        + ", ".join(f"{latency * 1000:.0f} ms at {at - started:.1f} s" for latency, at in worst),
        file=sys.stderr,
    )
    prober.join()
    return Phase(
        name,
        latencies,
        failures,
        statuses,
        time.monotonic() - started,
        peak_server,
        peak_children,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each flood")
    parser.add_argument("--baseline-seconds", type=float, default=10, help="idle probe length")
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--envelopes", type=int, default=50, help="most envelopes per sender")
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between probes")
    parser.add_argument("--skip-hostile", action="store_true", help="leave out phase (c)")
    parser.add_argument("--source", type=Path, help="serve this checkout's src/ instead")
    args = parser.parse_args()
    print_environment("python benchmarks/ingest_flood.py " + " ".join(sys.argv[1:]))

    real = real_envelope(MAX_EVENTS, MAX_BODY - 4096)
    hostile = hostile_envelope(MAX_BODY - 64)
    with tempfile.TemporaryDirectory(prefix="pullstats-flood-") as tmp:
        data_dir = Path(tmp) / "data"
        extra = {}
        if args.source is not None:
            extra["PYTHONPATH"] = str(args.source.resolve() / "src")
        created = subprocess.run(
            pullstats_command("ingest-tokens", "create", "flood"),
            env=cli_env(data_dir, **extra),
            capture_output=True,
            text=True,
            check=True,
        )
        token = created.stdout.strip().splitlines()[-1]
        server, url = start_server(data_dir, Path(tmp) / "server.log", **extra)
        try:
            phases = [run_phase("idle (baseline)", server, url, token, None, args)]
            phases.append(run_phase("real envelopes", server, url, token, real, args))
            if not args.skip_hostile:
                phases.append(run_phase("hostile envelopes", server, url, token, hostile, args))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"envelopes: real {len(real):,} bytes ({MAX_EVENTS:,} events), "
        f"hostile {len(hostile):,} bytes ({(len(hostile) - 13) // 3:,} events); "
        f"{args.senders} senders, probe every {args.interval * 1000:.0f} ms\n"
    )
    header = (
        "phase",
        "probes",
        "failed",
        "/healthz p50 ms",
        "p99 ms",
        "max ms",
        "envelopes answered",
        "s",
        "peak RSS MB server / children",
    )
    print(markdown_table(header, [phase.row() for phase in phases]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
