"""Webhook ingest, durable before the answer: how fast `POST /ingest/v1/registry/events` is.

Run (from the repository root):

    python benchmarks/ingest_webhook.py --seconds 10

Starts `pullstats serve` on a free loopback port over a fresh temporary data dir (with an ingest
token made by the CLI) and measures, for `--seconds` each:

(a) one sequential sender posting one event per request, as a registry does: answer latency
    p50/p99 and events/s (targets: p99 < 20 ms, >= 1,000 events/s);
(b) `--senders` (8) concurrent senders posting 100-event envelopes over keep-alive
    connections: events/s (target >= 20,000).

Each sender is a thread with one keep-alive connection and one request in flight, as a
registry's notification endpoint sends. `--client raw` (the default) speaks HTTP/1.1 on the
socket directly, so the senders cost a small fraction of the server's CPU; `stdlib`
(http.client) and `httpx` are there to compare.

Baselines from the same run: the same senders against `GET /healthz` (a trivial endpoint:
what HTTP, the framework and the client cost without ingest), and the raw cost of an fsync of a
small append on the same disk. Afterwards the server is stopped and the spool's lines are
counted: they must equal the events the server said it accepted.

Diagnostics: the CPU time the server process and the senders used per request. On a shared
machine the rates swing with other load; CPU per request barely does, so it shows whether a
change made the server cheaper, and the senders' figure shows they are not the bottleneck.

`--database-url URL` keeps the catalog (accounts, ingest tokens) in that database instead of the
embedded SQLite file, e.g. an empty PostgreSQL database; each delivery reads the accounts
epoch there, so this shows what the catalog's round trip costs ingest.

Events come from the seeded generator, rendered as real Distribution envelopes; every event id
is distinct (a pool of bodies is reused with a per-pass id prefix).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
from _common import (
    add_database_url,
    catalog_env,
    cli_env,
    markdown_table,
    percentile,
    print_environment,
    pullstats_command,
    shown_arguments,
    start_server,
)

from pullstats.demo.catalog import DEMO_CATALOG
from pullstats.demo.render import (
    ENVELOPE_MEDIA_TYPE,
    envelope_bodies,
    manifest_info,
    notification_events,
)
from pullstats.demo.synthetic import generate_requests

INGEST = "/ingest/v1/registry/events"
_ID_PREFIX = b'{"id":"00000000-'

Headers = dict[str, str] | None


@dataclass
class Pool:
    """Request bodies whose event ids start with ``00000000-``; each pass renames them."""

    bodies: list[bytes]
    events: list[int]
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> tuple[bytes, int]:
        with self._lock:
            index = self._next
            self._next += 1
        passes, position = divmod(index, len(self.bodies))
        body = self.bodies[position]
        if passes:
            body = body.replace(_ID_PREFIX, b'{"id":"%08x-' % passes)
        return body, self.events[position]


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)  # seconds, one per request
    requests: int = 0
    events: int = 0  # accepted, as the server answered
    failures: int = 0
    elapsed: float = 0.0
    server_cpu: float = 0.0  # seconds of CPU the server process used during the phase
    sender_cpu: float = 0.0  # seconds of CPU this process (the senders) used

    def cpu_per_request(self) -> str:
        if not self.requests:
            return ""
        server, senders = (cpu / self.requests * 1000 for cpu in (self.server_cpu, self.sender_cpu))
        return f"{server:.3f} / {senders:.3f} ms"

    @property
    def events_per_second(self) -> float:
        return self.events / self.elapsed if self.elapsed else 0.0

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def ms(self, q: float) -> str:
        return f"{percentile(sorted(self.latencies), q) * 1000:.2f} ms"


def make_pool(envelopes: int, per_envelope: int, seed: int) -> Pool:
    """Rendered envelopes from the generator, with ids ``00000000-0000-4000-8000-<n>``."""
    wanted = envelopes * per_envelope
    tables: list[pa.Table] = []
    have = 0
    for table in generate_requests(
        DEMO_CATALOG,
        start=date(2026, 10, 5),
        days=7,
        requests_per_day=max(wanted // 6, 1_000),
        seed=seed,
    ):
        tables.append(table)
        have += table.num_rows
        if have >= wanted:
            break
    table = pa.concat_tables(tables).slice(0, wanted)
    ids = pa.array([f"00000000-0000-4000-8000-{n:012x}" for n in range(table.num_rows)])
    table = table.set_column(0, "id", ids)
    events = notification_events(table, manifest_info(DEMO_CATALOG), np.random.default_rng(seed))
    bodies = list(envelope_bodies(events, per_envelope))
    counts = [min(per_envelope, len(events) - i * per_envelope) for i in range(len(bodies))]
    return Pool(bodies, counts)


class RawHttp:
    """HTTP/1.1 on one keep-alive socket, doing only what these requests need.

    A registry's sender is compiled Go; http.client spends about 0.15 ms of Python per request
    (email-style header parsing among it), which in the sequential phase is a fifth of the
    round trip and is not the server's. This sends the same request bytes, one request at a
    time, and reads the answer by its Content-Length.
    """

    def __init__(self, host: str, port: int) -> None:
        self._host = f"Host: {host}:{port}".encode()
        self._socket = socket.create_connection((host, port), timeout=10)
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._pending = b""

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1".encode(), self._host]
        lines += [f"{name}: {value}".encode() for name, value in headers.items()]
        if body is not None:
            lines.append(b"Content-Length: %d" % len(body))
        self._socket.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + (body or b""))
        while b"\r\n\r\n" not in self._pending:
            self._receive()
        head, _, self._pending = self._pending.partition(b"\r\n\r\n")
        status_line, *fields = head.split(b"\r\n")
        length = None
        for field_line in fields:
            name, _, value = field_line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"transfer-encoding":
                raise ValueError("answer without Content-Length: use --client stdlib")
        if length is None:
            raise ValueError("answer without Content-Length: use --client stdlib")
        while len(self._pending) < length:
            self._receive()
        answer, self._pending = self._pending[:length], self._pending[length:]
        return int(status_line.split(b" ", 2)[1]), answer

    def _receive(self) -> None:
        data = self._socket.recv(1 << 16)
        if not data:
            raise ConnectionError("server closed the connection")
        self._pending += data

    def close(self) -> None:
        self._socket.close()


class Connection:
    """One keep-alive connection: ``request`` returns (status, body).

    ``raw`` (the default, :class:`RawHttp`) and ``stdlib`` (http.client) cost far less per
    request than httpx, so the figures are the server's rather than the sender's; the other two
    are there to compare.
    """

    def __init__(self, base_url: str, kind: str) -> None:
        self._kind = kind
        host, port = base_url.removeprefix("http://").split(":")
        if kind == "httpx":
            self._httpx = httpx.Client(base_url=base_url, timeout=10)
        elif kind == "raw":
            self._raw = RawHttp(host, int(port))
        else:
            self._http = http.client.HTTPConnection(host, int(port), timeout=10)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        if self._kind == "httpx":
            response = self._httpx.request(method, path, content=body, headers=headers)
            return response.status_code, response.content
        if self._kind == "raw":
            return self._raw.request(method, path, body, headers or {})
        self._http.request(method, path, body=body, headers=headers or {})
        answer = self._http.getresponse()
        return answer.status, answer.read()

    def close(self) -> None:
        if self._kind == "httpx":
            self._httpx.close()
        elif self._kind == "raw":
            self._raw.close()
        else:
            self._http.close()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc; 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_senders(
    senders: int,
    seconds: float,
    send: Callable[[Connection], int],
    base_url: str,
    client: str,
    server_pid: int,
) -> Phase:
    """``senders`` threads, each with its own keep-alive connection, calling ``send`` until time.

    ``send`` returns the events the server accepted, or -1 for an answer that is not a 200.
    """
    phase = Phase()
    lock = threading.Lock()
    start = threading.Barrier(senders + 1)

    def worker() -> None:
        latencies: list[float] = []
        requests = events = failures = 0
        connection = Connection(base_url, client)
        try:
            send(connection)  # open the connection before the clock starts
            start.wait()
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                accepted = send(connection)
                latencies.append(time.perf_counter() - began)
                requests += 1
                if accepted < 0:
                    failures += 1
                else:
                    events += accepted
        finally:
            connection.close()
        with lock:
            phase.latencies += latencies
            phase.requests += requests
            phase.events += events
            phase.failures += failures

    threads = [threading.Thread(target=worker) for _ in range(senders)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    server_began, senders_began = process_cpu(server_pid), time.process_time()
    for thread in threads:
        thread.join()
    phase.elapsed = time.perf_counter() - began
    phase.server_cpu = process_cpu(server_pid) - server_began
    phase.sender_cpu = time.process_time() - senders_began
    return phase


class Ingest:
    """Posts bodies from a pool and keeps the total the server accepted (warm-ups included)."""

    def __init__(self, pool: Pool, token: str) -> None:
        self.pool = pool
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": ENVELOPE_MEDIA_TYPE}
        self.accepted = 0
        self._lock = threading.Lock()

    def __call__(self, connection: Connection) -> int:
        body, _ = self.pool.take()
        status, answer = connection.request("POST", INGEST, body, self.headers)
        if status != 200:
            return -1
        accepted = int(json.loads(answer)["accepted"])
        with self._lock:
            self.accepted += accepted
        return accepted


def healthz(connection: Connection) -> int:
    status, _ = connection.request("GET", "/healthz")
    return 0 if status == 200 else -1


def fsync_cost(folder: Path, count: int) -> list[float]:
    """Seconds per fsync of a 200-byte append to one file, ``count`` times, sorted."""
    path = folder / "fsync-baseline"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    line = b"x" * 199 + b"\n"
    times = []
    try:
        for _ in range(count):
            os.write(fd, line)
            began = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - began)
    finally:
        os.close(fd)
        path.unlink()
    return sorted(times)


def spool_lines(data_dir: Path) -> int:
    return sum(path.read_bytes().count(b"\n") for path in (data_dir / "spool").iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--senders", type=int, default=8, help="concurrent senders in (b)")
    parser.add_argument("--batch", type=int, default=100, help="events per envelope in (b)")
    parser.add_argument("--fsyncs", type=int, default=1_000, help="fsyncs timed for the floor")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--client",
        choices=("raw", "stdlib", "httpx"),
        default="raw",
        help="HTTP client of the senders",
    )
    add_database_url(parser)
    args = parser.parse_args()
    catalog = catalog_env(args.database_url)
    print_environment(
        " ".join(["python benchmarks/ingest_webhook.py", *shown_arguments(args.database_url)])
    )

    # pools large enough that a pass rarely repeats, small enough to build in a few seconds
    singles = make_pool(5_000, 1, args.seed)
    envelopes = make_pool(400, args.batch, args.seed + 1)

    with tempfile.TemporaryDirectory(prefix="pullstats-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        made = subprocess.run(
            pullstats_command("ingest-tokens", "create", "bench"),
            env=cli_env(data_dir, **catalog),
            capture_output=True,
            text=True,
            check=True,
        )
        token = made.stdout.strip().splitlines()[-1]
        floor = fsync_cost(data_dir, args.fsyncs)
        process, url = start_server(data_dir, Path(tmp) / "server.log", **catalog)
        single = Ingest(singles, token)
        many = Ingest(envelopes, token)
        try:
            run = (url, args.client, process.pid)
            seq_health = run_senders(1, args.seconds, healthz, *run)
            seq_ingest = run_senders(1, args.seconds, single, *run)
            conc_health = run_senders(args.senders, args.seconds, healthz, *run)
            conc_ingest = run_senders(args.senders, args.seconds, many, *run)
        finally:
            process.terminate()
            process.wait(timeout=30)
        stored = spool_lines(data_dir)
        accepted = single.accepted + many.accepted
        log = (Path(tmp) / "server.log").read_text()

    seconds = f"{args.seconds:g} s each, {args.client} client"
    print(
        markdown_table(
            ("measurement", "pullstats ingest", "baseline: GET /healthz", "target"),
            [
                (
                    "(a) 1 sender, 1 event/request: latency p50",
                    seq_ingest.ms(50),
                    seq_health.ms(50),
                    "",
                ),
                ("(a) latency p99", seq_ingest.ms(99), seq_health.ms(99), "< 20 ms"),
                (
                    "(a) events/s (baseline: requests/s)",
                    f"{seq_ingest.events_per_second:,.0f}",
                    f"{seq_health.requests_per_second:,.0f}",
                    "≥ 1,000",
                ),
                (
                    f"(b) {args.senders} senders, {args.batch}-event envelopes: events/s",
                    f"{conc_ingest.events_per_second:,.0f}",
                    "",
                    "≥ 20,000",
                ),
                (
                    "(b) requests/s",
                    f"{conc_ingest.requests_per_second:,.0f}",
                    f"{conc_health.requests_per_second:,.0f}",
                    "",
                ),
                ("(b) latency p50 / p99", f"{conc_ingest.ms(50)} / {conc_ingest.ms(99)}",
                 f"{conc_health.ms(50)} / {conc_health.ms(99)}", ""),
                ("answers other than 200", seq_ingest.failures + conc_ingest.failures,
                 seq_health.failures + conc_health.failures, "0"),
                ("diagnostic: (a) CPU per request, server / senders",
                 seq_ingest.cpu_per_request(), seq_health.cpu_per_request(), ""),
                ("diagnostic: (b) CPU per request, server / senders",
                 conc_ingest.cpu_per_request(), conc_health.cpu_per_request(), ""),
            ],
        )
    )  # fmt: skip
    print()
    print(
        markdown_table(
            ("floor: fsync of a 200-byte append, same disk", "p50", "p99", "mean", "fsyncs/s"),
            [
                (
                    f"{len(floor)} fsyncs",
                    f"{percentile(floor, 50) * 1000:.3f} ms",
                    f"{percentile(floor, 99) * 1000:.3f} ms",
                    f"{sum(floor) / len(floor) * 1000:.3f} ms",
                    f"{len(floor) / sum(floor):,.0f}",
                )
            ],
        )
    )
    print()
    errors = len(re.findall(r"\bERROR\b|Traceback", log))
    verdict = "equal" if stored == accepted else "MISMATCH"
    print(
        f"durability: {accepted:,} events accepted, {stored:,} spool lines: {verdict}; "
        f"phases {seconds}; server log errors: {errors}"
    )
    if stored != accepted:
        sys.exit(1)


if __name__ == "__main__":
    main()
