"""Client text never forges or colours a line of the server's log (issue 14 §2.5)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pullstats.logs import escape_control
from tests.conftest import Server, start_server


def test_escape_control_hand_worked() -> None:
    assert escape_control("/a\r\nINFO: x") == "/a\\x0d\\x0aINFO: x"
    assert escape_control("\x1b[31mred\x00") == "\\x1b[31mred\\x00"
    assert escape_control("\x7f\x85\u2028\u202e") == "\\x7f\\x85\\u2028\\u202e"
    assert escape_control("C:\\x0a") == "C:\\\\x0a"  # a typed escape stays tellable from ours
    assert escape_control("café/ü") == "café/ü"


@pytest.fixture
def logged_server(data_dir: Path, tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    log = tmp_path / "server.log"
    server = start_server(data_dir, log, {"PULLSTATS_ACCESS_LOG": "1"})
    yield server, log
    server.stop()


def _raw_request(server: Server, target: bytes) -> bytes:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.e2e
def test_access_log_escapes_control_characters(logged_server: tuple[Server, Path]) -> None:
    server, log = logged_server
    _raw_request(server, b"/x%0D%0AINFO:%20forged%1B%5B31m%00%E2%80%AE")
    with server.client() as client:  # a request after it, so its line is surely written
        assert client.get("/healthz").status_code == 200
    server.stop()  # flushes stderr
    text = log.read_bytes().decode("utf-8", "replace")
    assert "/x\\x0d\\x0aINFO: forged\\x1b[31m\\x00\\u202e" in text
    assert not any(line.startswith("INFO: forged") for line in text.splitlines())
    assert "\x1b" not in text and "\x00" not in text and "\u202e" not in text
