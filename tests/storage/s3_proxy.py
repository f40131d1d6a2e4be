"""A loopback HTTP proxy in front of ``moto_server`` that forwards every request and can misbehave
on chosen ones, as a real store or the network between can: never answer (a store that hangs in
the middle of a job), forward and then lose the answer (the connection cut once the store
did the work), or go down (a store, or the proxy in front of it, killed in the middle of a
job: every later connection refused). It logs each request's line, so tests count requests
instead of timing them.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: What the proxy does with a request: ``"forward"`` it; ``"hold"`` it, never answering
#: (until the proxy stops); ``"cut"``: forward it, then close the connection without the
#: store's answer (the store did the work; the client never hears of it); ``"down"``: stop
#: listening, so that every new connection is refused, and close this request's connection, and
#: that of every later request on a connection already open, unanswered and unforwarded;
#: ``"refuse"``: answer this request and every later one, unforwarded, as S3 answers keys it
#: does not know (``403 InvalidAccessKeyId``: the credentials rotated in the middle of a job).
Action = str

#: Decides a request's action from its method and path (with its query); it is asked for
#: every request, in order, so it may count.
Rule = Callable[[str, str], Action]

#: S3's answer to a request signed with keys it does not know
_REFUSAL = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidAccessKeyId</Code>'
    b"<Message>The AWS Access Key Id you provided does not exist in our records.</Message>"
    b"</Error>"
)

#: hop-by-hop headers, which a proxy does not pass on
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    action: Action


class S3Proxy:
    """``endpoint``: a proxy to ``backend`` doing what ``rule`` says with each request."""

    def __init__(self, backend: str, rule: Rule) -> None:
        self.backend = backend.removeprefix("http://")
        self.rule = rule
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        #: set once a request was answered ``"down"``: the proxy no longer listens
        self.down = threading.Event()
        #: set once a request was answered ``"refuse"``: every later one is
        self.refusing = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def decide(self, method: str, path: str) -> Action:
        with self._lock:
            if self.down.is_set():
                action = "down"
            elif self.refusing.is_set():
                action = "refuse"
            else:
                action = self.rule(method, path)
            if action == "refuse":
                self.refusing.set()
            self.requests.append(Request(method, path, action))
            if action == "down" and not self.down.is_set():
                self.go_down()
            return action

    def go_down(self) -> None:
        """Stop listening (every new connection refused) and cut every later request on a
        connection already open, as if the proxy were killed."""
        self.down.set()
        # from a handler's thread too: serve_forever runs in another, which shutdown waits for
        self._server.shutdown()
        self._server.server_close()

    def stop(self) -> None:
        self.stopping.set()  # held requests end: their connections close unanswered
        if not self.down.is_set():
            self._server.shutdown()
            self._server.server_close()

    def count(self, action: Action) -> int:
        with self._lock:
            return sum(1 for request in self.requests if request.action == action)


def _handler(proxy: S3Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: botocore reuses its connections

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _handle(self) -> None:
            body = self._body()
            action = proxy.decide(self.command, self.path)
            if action == "down":
                self._cut()
                return
            if action == "hold":
                proxy.stopping.wait()
                self._cut()
                return
            if action == "refuse":
                self._refuse()
                return
            status, reason, headers, answer = self._forward(body)
            if action == "cut":
                self._cut()
                return
            self.send_response_only(status, reason)
            for name, value in headers:
                if name.lower() not in _HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            if self.command != "HEAD" or answer:
                self.send_header("Content-Length", str(len(answer)))
            else:  # a HEAD's length is the object's, and there is no body to measure
                length = next((v for n, v in headers if n.lower() == "content-length"), "0")
                self.send_header("Content-Length", length)
            self.end_headers()
            self.wfile.write(answer)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return b"".join(_chunks(self.rfile))
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
            connection = http.client.HTTPConnection(proxy.backend, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                headers["Content-Length"] = str(len(body))
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.reason, response.getheaders(), response.read()
            finally:
                connection.close()

        def _refuse(self) -> None:
            answer = _REFUSAL if self.command != "HEAD" else b""
            self.send_response_only(403, "Forbidden")
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def _cut(self) -> None:
            self.close_connection = True
            with suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle

    return Handler


def _chunks(stream: object) -> Iterator[bytes]:
    read_line = stream.readline  # type: ignore[attr-defined]
    read = stream.read  # type: ignore[attr-defined]
    while True:
        size = int(read_line().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while read_line().strip():  # trailers
                pass
            return
        yield read(size)
        read_line()


@contextmanager
def s3_proxy(backend: str, rule: Rule) -> Iterator[S3Proxy]:
    proxy = S3Proxy(backend, rule)
    try:
        yield proxy
    finally:
        proxy.stop()
