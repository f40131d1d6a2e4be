"""Browser headers, bounded request heads and HEAD on download links (issue 14 §2.10), each on
a real ``pullstats serve`` process."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from pullstats.api.security_headers import inline_script_hashes
from pullstats.periods import last_complete_months
from tests.conftest import Server
from tests.security.conftest import PASSWORD

pytestmark = pytest.mark.e2e


def _directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def test_html_pages_carry_a_strict_policy(server: Server) -> None:
    with server.client() as client:
        # the dashboard's sign-in page (its other pages need a session) and the API reference
        for path in ("/signin", "/docs"):
            page = client.get(path)
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            policy = _directives(page.headers["content-security-policy"])
            scripts = policy["script-src"]
            assert scripts[0] == "'self'" and "'unsafe-inline'" not in scripts
            assert "'unsafe-eval'" not in scripts and "*" not in scripts
            # every inline script the page has may run, by its hash, and nothing else inline
            assert inline_script_hashes(page.content) <= set(scripts[1:])
            assert policy["frame-ancestors"] == ["'none'"]
            assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
            assert policy["default-src"] == ["'self'"]
            assert page.headers["x-frame-options"] == "DENY"
            assert page.headers["x-content-type-options"] == "nosniff"
            # the dashboard's forms send their Origin, which a no-referrer page would hide
            # (the CSRF check, api/dashboard/forms.py); other sites still get no Referer
            referrer = "same-origin" if path == "/signin" else "no-referrer"
            assert page.headers["referrer-policy"] == referrer
        # no page of ours has an inline script: scripts are files of our origin only
        assert _directives(client.get("/signin").headers["content-security-policy"])[
            "script-src"
        ] == ["'self'"]


def test_every_answer_is_nosniff(server: Server) -> None:
    with server.client() as client:
        for answer in (client.get("/healthz"), client.get("/nope"), client.get("/openapi.json")):
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert "content-security-policy" not in answer.headers  # not a page


def _exchange(server: Server, *parts: bytes) -> bytes:
    """Send ``parts`` one by one on a raw socket, then read until the server closes or stops."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            for part in parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before it had read everything
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and b"connection: close" not in answer.lower():
                    break
        except (ConnectionResetError, TimeoutError):
            pass
    return answer


def _one_response(sock: socket.socket) -> bytes:
    """One whole response (head, then Content-Length bytes of body) from a kept-alive socket:
    its head and body may come in separate reads, and the next response must not be touched."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data[:200]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a body"
        body += chunk
    assert len(body) == length, "more than one response arrived before the next request"
    return head + b"\r\n\r\n" + body


def test_an_oversized_head_is_431(server: Server) -> None:
    start = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    # one header far past the limit (32 KiB), in one piece
    big = _exchange(server, start + b"X-Big: " + b"a" * 200_000 + b"\r\n\r\n")
    assert big.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), big[:200]
    # the JSON of every other error, not text
    assert b"\r\ncontent-type: application/json\r\n" in big
    assert big.endswith(b'\r\n\r\n{"detail":"request header fields too large"}')
    # a head that never ends, sent in small pieces: answered and closed, not buffered for ever
    endless = _exchange(server, start, *([b"X-More: " + b"b" * 1000 + b"\r\n"] * 200))
    assert endless.startswith(b"HTTP/1.1 431 "), endless[:200]
    # just past the limit, small enough to arrive in one read with its end: counted as parsed
    one_read = _exchange(server, start + b"X-Big: " + b"a" * 40_000 + b"\r\n\r\n")
    assert one_read.startswith(b"HTTP/1.1 431 "), one_read[:200]
    # many small headers count together
    many = b"".join(b"X-%d: v\r\n" % n for n in range(10_000))
    assert _exchange(server, start + many + b"\r\n").startswith(b"HTTP/1.1 431 ")
    # a head just within the limit is served, and the server is still well
    fine = _exchange(server, start + b"X-Fine: " + b"c" * 30_000 + b"\r\nConnection: close\r\n\r\n")
    assert fine.startswith(b"HTTP/1.1 200 "), fine[:200]
    with server.client() as client:
        assert client.get("/healthz").status_code == 200


def test_a_large_body_is_not_a_large_head(server: Server) -> None:
    """Only a head counts: a request whose body (past the head limit) arrives in the same read
    as its head, then another request on the same connection, are both answered."""
    body = b'{"username": "alice", "password": "' + b"x" * 100_000 + b'"}'
    post = (
        b"POST /v2/users/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(post)
        first = _one_response(sock)
        assert first.startswith(b"HTTP/1.1 422 "), first[:200]  # the password is too long
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        second = b""
        while chunk := sock.recv(65536):
            second += chunk
    assert second.startswith(b"HTTP/1.1 200 "), second[:200]


def test_head_on_a_download_link_sends_what_get_would(world: Server) -> None:
    with world.client() as client:
        login = client.post("/v2/users/login", json={"username": "alice", "password": PASSWORD})
        token = login.json()["token"]
        month = last_complete_months(datetime.now(UTC).date(), 1)[0]
        links = client.get(
            f"/api/publisher/analytics/v1/namespaces/acme/pulls/exports/years/{month.year}"
            f"/months/{month.month}/summary",
            headers={"Authorization": f"Bearer {token}"},
        ).json()["data"]
        url = links[0]["url"]
        got = client.get(url)
        head = client.head(url)
        assert got.status_code == head.status_code == 200
        assert head.content == b""
        for name in (
            "content-length",
            "content-type",
            "content-disposition",
            "etag",
            "last-modified",
            "accept-ranges",
        ):
            assert head.headers[name] == got.headers[name], name
        assert int(head.headers["content-length"]) == len(got.content) == links[0]["size"]
        assert client.head(url.replace("signature=", "signature=0")).status_code == 403
