"""One processed, exported pullstats server for the client's tests, shared by the package.

Building it is the slow part, and no test changes what another reads (sign-in tests make
their own accounts; download tests write under their own ``tmp_path``), so the tests of
``test_against_server.py``, ``test_files.py`` and ``test_query.py`` share one per worker.

What it holds, for hand-worked expectations: in the last complete month, on its 10th day at
noon UTC, acme/api is pulled by tag ``1.0`` (from 203.0.113.7) and by digest (198.51.100.2)
and version-checked by a HEAD of ``1.0`` (192.0.2.44); acme/tools/cli is pulled by digest
(2001:db8::5); globex/web by tag ``2.0``. alice reads acme, bob globex.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pullstats.client import DvpClient
from pullstats.periods import last_complete_months
from tests.conftest import Server, run_cli, start_server
from tests.envelopes import ENVELOPE_TYPE, envelope, pull_event
from tests.test_end_to_end import set_up_accounts

INDEX = "sha256:" + "1" * 64
#: failed logins one account name may make before the server answers 429
ATTEMPTS = 3


@dataclass
class Served:
    server: Server
    data_dir: Path
    #: the first day of the month the events are in
    month: date


def run_ok(data_dir: Path, *args: str, stdin: str | None = None) -> str:
    result = run_cli(data_dir, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="package")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("client")
    data_dir = root / "data"
    ingest_token = set_up_accounts(data_dir)
    today = datetime.now(UTC).date()
    month_start, _ = last_complete_months(today, 1)
    noon = datetime.combine(month_start + timedelta(days=9), time(12), UTC)
    events = [
        pull_event(noon, "acme/api", tag="1.0", digest=INDEX),
        pull_event(noon, "acme/api", digest=INDEX, addr="198.51.100.2"),
        pull_event(noon, "acme/api", method="HEAD", tag="1.0", digest=INDEX, addr="192.0.2.44"),
        pull_event(noon, "acme/tools/cli", digest=INDEX, addr="[2001:db8::5]:4431"),
        pull_event(noon, "globex/web", tag="2.0", addr="198.51.100.9"),
    ]
    env = {"PULLSTATS_LOGIN_ATTEMPTS_PER_ACCOUNT": str(ATTEMPTS)}
    server = start_server(data_dir, root / "server.log", env)
    try:
        with server.client() as client:
            answer = client.post(
                "/ingest/v1/registry/events",
                json=envelope(*events),
                headers={"Authorization": f"Bearer {ingest_token}", "Content-Type": ENVELOPE_TYPE},
            )
        assert answer.status_code == 200, answer.text
        run_ok(data_dir, "process")
        run_ok(data_dir, "export", "--through", today.isoformat())
        yield Served(server, data_dir, month_start)
    finally:
        server.stop()


def signed_in(served: Served) -> DvpClient:
    """A client signed in as alice, who reads acme."""
    client = DvpClient(served.server.url, timeout=30)
    client.login("alice", "alice-secret")
    return client


class StandInServer(ThreadingHTTPServer):
    """A loopback stand-in of a DVP API server, on a free port, answered by ``handler``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class JsonAnswers(BaseHTTPRequestHandler):
    """A stand-in's handler: answers a body as JSON (bytes as they are), and logs nothing."""

    def _answer(
        self,
        status: int,
        body: Any,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Type" not in (headers or {}):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


Serving = TypeVar("Serving", bound=ThreadingHTTPServer)


def serving(server: Serving) -> Iterator[Serving]:
    """A loopback stand-in's fixture body: serve in a thread, then shut it down.

    The loop looks for the shutdown every 20 ms, not serve_forever's default 0.5 s, which every
    test would otherwise wait at its end."""
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
