"""A client that goes away before its request's body has all arrived, on a real server.

Registries, proxies and browsers drop connections: a timeout, a restart, a closed tab. The
server then has nothing to answer and no one to answer to. What it must not do is log that as
its own failure (a traceback, "Exception in ASGI application") or count it as a ``500`` on
``/metrics``, where alerts watch for 500s; and nothing of a body that never ended is stored.
Such a request is counted ``status="499"`` (nginx's "client closed request") with one quiet log
line; a body the server could not parse (a broken chunked encoding) is answered ``400`` by
uvicorn itself, which logs its own one line, and is counted so (docs/operations.md).

Every route that reads a body is tried: ingest (a small body, and one past 64 KiB, which is
written to ``tmp/`` as it arrives), the API login (FastAPI reads its JSON) and the dashboard's
sign-in form (read by ``api/dashboard/forms.py``).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_ingest import ingest_token, spool_bytes
from tests.conftest import Server, start_server

#: one server for the module (served): under pytest-xdist every test of it runs on one worker,
#: which starts it once, where each of up to three workers started its own
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("disconnects")]

INGEST = "/ingest/v1/registry/events"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, Path]]:
    folder = tmp_path_factory.mktemp("disconnects")
    log = folder / "server.log"
    server = start_server(folder / "data", log)
    try:
        yield server, ingest_token(server.data_dir), log
    finally:
        server.stop()


def counted(server: Server, route: str) -> dict[str, float]:
    """``pullstats_http_requests_total`` of the POSTs to ``route``, by status."""
    with server.client() as client:
        text = client.get("/metrics").text
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "pullstats_http_requests":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels["route"] == route:
                assert sample.labels["method"] == "POST"
                counts[sample.labels["status"]] = sample.value
    return counts


def newly_counted(server: Server, route: str, before: dict[str, float]) -> dict[str, float]:
    """What was counted for ``route`` since ``before``, once something was (or after 30 s):
    the server counts a request once it is done with it, after the client has gone."""
    deadline = time.monotonic() + 30
    while True:
        now = counted(server, route)
        new = {status: n - before.get(status, 0) for status, n in now.items()}
        new = {status: n for status, n in new.items() if n}
        if new or time.monotonic() > deadline:
            return new
        time.sleep(0.05)


def send_and_close(server: Server, head: str, body: bytes, *, read_answer: bool = False) -> bytes:
    """Send a request's head and ``body`` (less than the head announces) on a raw socket, then
    close it; with ``read_answer``, first read what the server answers until it closes."""
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    assert host is not None and port is not None
    answer = b""
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(head.replace("\n", "\r\n").encode() + body)
        if read_answer:
            while chunk := connection.recv(65536):
                answer += chunk
    return answer


def head(server: Server, path: str, content_type: str, framing: str, extra: str = "") -> str:
    """A POST's head (lines ending in \\n: :func:`send_and_close` makes them CRLF)."""
    host = urlsplit(server.url).netloc
    return f"POST {path} HTTP/1.1\nHost: {host}\nContent-Type: {content_type}\n{extra}{framing}\n\n"


def new_log(log: Path, start: int) -> str:
    return log.read_bytes()[start:].decode("utf-8", "replace")


def assert_quiet(log_text: str) -> None:
    assert "Traceback" not in log_text, log_text
    assert "Exception in ASGI application" not in log_text, log_text
    assert "ERROR" not in log_text, log_text


@pytest.mark.parametrize(
    ("path", "content_type", "extra", "body"),
    [
        (INGEST, "application/json", "", b'{"events":['),
        (INGEST, "application/json", "", b'{"events":[' + b" " * (100 * 1024)),
        ("/v2/users/login", "application/json", "", b'{"username": "a'),
        ("/signin", "application/x-www-form-urlencoded", "Origin: {url}\n", b"username=a"),
    ],
    ids=["ingest", "ingest-past-64KiB", "api-login", "dashboard-signin"],
)
def test_a_client_gone_mid_body_is_a_499_with_one_quiet_line(
    served: tuple[Server, str, Path], path: str, content_type: str, extra: str, body: bytes
) -> None:
    server, token, log = served
    if path == INGEST:
        extra = f"Authorization: Bearer {token}\n"
    extra = extra.format(url=server.url)
    before = counted(server, path)
    stored = spool_bytes(server.data_dir)
    start = log.stat().st_size
    send_and_close(
        server, head(server, path, content_type, f"Content-Length: {len(body) + 1000}", extra), body
    )
    assert newly_counted(server, path, before) == {"499": 1}
    text = new_log(log, start)
    assert_quiet(text)
    lines = [line for line in text.splitlines() if "closed the connection" in line]
    assert len(lines) == 1, text
    assert f"POST {path}" in lines[0]
    assert spool_bytes(server.data_dir) == stored  # nothing of the unfinished body is stored
    assert not list((server.data_dir / "tmp").glob("envelope-*"))  # nor left in tmp/


def test_a_broken_chunked_body_is_uvicorns_400_and_stores_nothing(
    served: tuple[Server, str, Path],
) -> None:
    server, token, log = served
    before = counted(server, INGEST)
    stored = spool_bytes(server.data_dir)
    start = log.stat().st_size
    answer = send_and_close(
        server,
        head(
            server,
            INGEST,
            "application/json",
            "Transfer-Encoding: chunked",
            f"Authorization: Bearer {token}\n",
        ),
        b'5\r\n{"eve\r\nzz\r\n',  # "zz" is no chunk size
        read_answer=True,
    )
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert newly_counted(server, INGEST, before) == {"400": 1}
    text = new_log(log, start)
    assert_quiet(text)
    # uvicorn's own warning is the one line: none of ours besides
    assert text.count("Invalid HTTP request received.") == 1, text
    assert "closed the connection" not in text, text
    assert spool_bytes(server.data_dir) == stored


def test_a_whole_delivery_is_still_counted_200(served: tuple[Server, str, Path]) -> None:
    """The counting of cut-short requests leaves finished ones alone."""
    server, token, _ = served
    before = counted(server, INGEST)
    with server.client() as client:
        answer = client.post(
            INGEST,
            content=b'{"events": []}',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    assert answer.status_code == 200
    assert newly_counted(server, INGEST, before) == {"200": 1}


def test_with_the_access_log_its_line_is_the_one_line(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = start_server(data_dir, log, {"PULLSTATS_ACCESS_LOG": "true"})
    try:
        token = ingest_token(data_dir)
        before = counted(server, INGEST)
        start = log.stat().st_size
        extra = f"Authorization: Bearer {token}\n"
        send_and_close(
            server, head(server, INGEST, "application/json", "Content-Length: 100", extra), b"{"
        )
        assert newly_counted(server, INGEST, before) == {"499": 1}
        text = new_log(log, start)
        assert_quiet(text)
        assert "closed the connection" not in text, text
        lines = [line for line in text.splitlines() if f'"POST {INGEST} HTTP/1.1" 499' in line]
        assert len(lines) == 1, text
    finally:
        server.stop()
