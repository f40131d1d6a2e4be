"""Hostile envelopes on a real server (issue 14 §2.2, §2.3): refused with a message, never a 500,
and never stalling the other requests of the server.

Each case is sent twice where it matters: as a small body (parsed on the event loop) and as a
body over 64 KiB (parsed in the worker process), as the two take different paths.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from pullstats.api.envelope_parsing import remove_stale_spills
from tests.api.test_ingest import NOON, ingest_token, post, spool_bytes
from tests.conftest import Server, start_server
from tests.envelopes import envelope, pull_event

#: one server for the module (limits_server): under pytest-xdist every test of it runs on one
#: worker, which starts it once, where each of up to three workers started its own
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("ingest-limits")]

#: Over api/envelope_parsing.INLINE_BYTES: such a body is parsed by the worker process.
LARGE = 100 * 1024


@pytest.fixture(scope="module")
def limits_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    folder = tmp_path_factory.mktemp("limits")
    server = start_server(folder / "data", folder / "server.log")
    try:
        yield server, ingest_token(server.data_dir)
    finally:
        server.stop()


def padded(body: bytes, size: int) -> bytes:
    """``body`` (an object) with insignificant whitespace before its last brace, to ``size``."""
    return body[:-1] + b" " * max(0, size - len(body)) + body[-1:]


def many_events(count: int) -> bytes:
    return b'{"events":[' + b",".join([b"{}"] * count) + b"]}"


@pytest.mark.parametrize("size", [0, LARGE], ids=["inline", "worker"])
def test_deep_nesting_is_a_400_with_a_message(limits_server: tuple[Server, str], size: int) -> None:
    server, token = limits_server
    depth = 100_000
    body = padded(b'{"events":[' + b"[" * depth + b"]" * depth + b"]}", size)
    answer = post(server, token, body)
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json() == {"detail": "body is not a notification envelope: nested too deeply"}


@pytest.mark.parametrize("size", [0, LARGE], ids=["inline", "worker"])
def test_an_integer_of_more_than_4300_digits_is_a_400_with_a_message(
    limits_server: tuple[Server, str], size: int
) -> None:
    server, token = limits_server
    event = json.dumps(pull_event(NOON, "acme/api", tag="1.0"))
    body = padded(f'{{"events":[{event}],"size":{"9" * 5000}}}'.encode(), size)
    answer = post(server, token, body)
    assert answer.status_code == 400, answer.text[:300]
    assert answer.json() == {
        "detail": "body is not a notification envelope: it holds a number with too many digits"
    }


@pytest.mark.parametrize("count", [10_001, 40_000], ids=["inline", "worker"])
def test_more_events_than_allowed_is_a_413_with_a_message(
    limits_server: tuple[Server, str], count: int
) -> None:
    server, token = limits_server
    stored = spool_bytes(server.data_dir)
    body = many_events(count)
    assert (len(body) > LARGE) == (count > 20_000)
    answer = post(server, token, body)
    assert answer.status_code == 413, answer.text[:300]
    assert answer.json()["detail"] == (
        f"envelope holds {count} events, more than the 10000 allowed "
        "(PULLSTATS_INGEST_MAX_EVENTS); send them in smaller envelopes"
    )
    assert spool_bytes(server.data_dir) == stored  # nothing of it is stored


def test_a_large_envelope_within_the_limits_is_stored_whole(
    limits_server: tuple[Server, str],
) -> None:
    server, token = limits_server
    events = [pull_event(NOON, "acme/api", tag=f"1.{i}") for i in range(500)]
    events[7]["timestamp"] = "0001-01-01T00:00:00Z"
    events.append(42)  # type: ignore[arg-type]
    body = json.dumps(envelope(*events)).encode()
    assert len(body) > LARGE
    answer = post(server, token, body)
    assert answer.status_code == 200, answer.text[:300]
    report = answer.json()
    assert report["accepted"] == 499
    assert [r["index"] for r in report["rejected"]] == [7, 500]
    assert report["rejected"][1]["error"] == "event is not an object"
    with server.client() as client:
        metrics = client.get("/metrics").text
    assert 'pullstats_ingest_events_total{outcome="rejected",reason="invalid_event"}' in metrics
    # the body was written to tmp/ for the worker (it holds raw addresses): it is gone now
    assert not list((server.data_dir / "tmp").glob("envelope-*"))


def test_body_files_of_dead_server_processes_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (tmp_path / f"envelope-{dead}-0a.json").write_bytes(b"{}")
    (tmp_path / f"envelope-{os.getpid()}-0b.json").write_bytes(b"{}")
    remove_stale_spills(tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == [f"envelope-{os.getpid()}-0b.json"]


def test_the_event_bound_is_a_setting(data_dir: Path, tmp_path: Path) -> None:
    server = start_server(data_dir, tmp_path / "server.log", {"PULLSTATS_INGEST_MAX_EVENTS": "2"})
    try:
        token = ingest_token(data_dir)
        three = [pull_event(NOON, "acme/api", tag="1.0") for _ in range(3)]
        answer = post(server, token, json.dumps(envelope(*three)).encode())
        assert answer.status_code == 413
        assert "more than the 2 allowed" in answer.json()["detail"]
        assert post(server, token, json.dumps(envelope(*three[:2])).encode()).status_code == 200
    finally:
        server.stop()


def test_healthz_answers_while_a_huge_envelope_is_being_handled(
    limits_server: tuple[Server, str],
) -> None:
    """The body is as large as the server takes, of the smallest events: parsing it takes the
    server far longer than answering /healthz. The envelope is written whole, then /healthz is
    asked again and again: while it is handled, /healthz must keep answering (on a server that
    parses on its event loop, it answered only after the envelope)."""
    server, token = limits_server
    body = many_events((16 * 1024 * 1024 - 20) // 3)
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    assert host is not None and port is not None
    head = (
        f"POST /ingest/v1/registry/events HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    answered = threading.Event()
    answer: list[bytes] = []

    def read_answer(connection: socket.socket) -> None:
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
        answer.append(b"".join(chunks))
        answered.set()

    with socket.create_connection((host, port), timeout=120) as connection:
        connection.sendall(head + body)  # returns once the server has read nearly all of it
        reader = threading.Thread(target=read_answer, args=(connection,), daemon=True)
        reader.start()
        healthy_meanwhile = 0
        with httpx.Client(base_url=server.url, timeout=60) as client:
            while not answered.is_set():
                status = client.get("/healthz").status_code
                if not answered.is_set():
                    assert status == 200
                    healthy_meanwhile += 1
        reader.join(timeout=120)
    assert answer and answer[0].startswith(b"HTTP/1.1 413 "), answer[:1]
    assert b"more than the 10000 allowed" in answer[0]
    assert healthy_meanwhile >= 3
