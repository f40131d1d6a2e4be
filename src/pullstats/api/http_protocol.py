"""uvicorn's HTTP/1.1 protocol (httptools) with a bound on a request's head: 431 past it.

httptools keeps a request line and header fields in memory until they end, with no limit, so a
client could send headers for ever and the server would buffer them all (uvicorn bounds only
its h11 protocol, and answers that with a 400). This protocol counts a request's head as it
arrives: every read that leaves the head incomplete, and the parsed request line and header
fields of the read that completes it (a read that also ends the previous request is counted by
its fields only, so one read, at most 256 KiB, is the slack). Past the limit it answers
``431 Request Header Fields Too Large``, reads and discards what the client is still sending
for a moment (closing at once would reset the connection and lose the answer), and closes.

A request whose body the parser cannot read (a broken chunked encoding) is answered ``400`` by
uvicorn, which logs it and closes the connection; the app meets only a disconnect where the body
should go on. The request's scope gets :data:`ANSWERED_BY_SERVER`, so the metrics count it as
the ``400`` the client got, not as a client that went away (``api/metrics.py``).

The limit is uvicorn's own ``h11_max_incomplete_event_size``, which ``pullstats serve`` sets
from ``PULLSTATS_MAX_REQUEST_HEAD_BYTES``: it travels with uvicorn's config into every worker.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: scope key: the status the protocol itself answered a request with, its app's answer unsent
ANSWERED_BY_SERVER = "pullstats.answered_by_server"

#: when uvicorn's config carries no limit (h11's own default)
DEFAULT_LIMIT = 16 * 1024

#: JSON, as every other error of the app (``{"detail": …}``)
_MESSAGE = b'{"detail":"request header fields too large"}'
_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(_MESSAGE)).encode() + b"\r\n"
    b"connection: close\r\n"
    b"\r\n" + _MESSAGE
)


#: after a 431, what the client still sends is read and dropped for this long, or this much
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 1024 * 1024


class BoundedHeadProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_limit: int = self.config.h11_max_incomplete_event_size or DEFAULT_LIMIT
        self._in_head = True  # a connection starts with a request's head
        self._unfinished_reads = 0  # bytes of reads that left the head incomplete
        self._fields = 0  # bytes of the head's request line and header fields, as parsed
        self._too_large = False  # set while parsing; answered once the read is parsed
        self._completed_in_read = False
        self._refused = False
        self._discarded = 0
        self._linger: asyncio.TimerHandle | None = None

    # -- counting: once the head is too large, the parser's events are dropped ----------------

    def _counted(self, size: int) -> bool:
        """Count a parsed field; False once the head is past the limit (drop the field)."""
        self._fields += size
        if self._fields > self._head_limit:
            self._too_large = True
        return not self._too_large

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._fields = 0

    def on_url(self, url: bytes) -> None:
        if self._counted(len(url)):
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._counted(len(name) + len(value) + 4):  # ": " and CRLF
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._unfinished_reads = 0
        if not self._too_large:  # else no request cycle starts: the app never sees it
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._too_large:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._too_large:
            super().on_message_complete()
        self._in_head = True  # whatever comes next is the next request's head
        self._completed_in_read = True

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._discarded += len(data)
            if self._discarded > _LINGER_BYTES:
                self.transport.close()
            return
        self._completed_in_read = False
        super().data_received(data)
        if self.transport.is_closing():
            return
        # a read that finished a request counts as none of the next one's head: the start of
        # that head in it, if any, is counted field by field
        if self._in_head and not self._too_large and not self._completed_in_read:
            self._unfinished_reads += len(data)
            self._too_large = self._unfinished_reads > self._head_limit
        if self._too_large:
            self._refuse_head()

    # -- answering --------------------------------------------------------------------------

    def _refuse_head(self) -> None:
        self._refused = True
        # a pipelined request's head while an earlier answer is still being written: an answer
        # now would break that one, so the connection just ends
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()
            return
        self.transport.write(_RESPONSE)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger = self.loop.call_later(_LINGER_SECONDS, self.transport.close)

    def send_400_response(self, msg: str) -> None:
        # the parser failed inside a request's body: that request's app is told, through its
        # scope, that the client got this 400 (a failure in a later request's head, once this
        # request's body has ended, is none of its business)
        cycle = self.cycle
        if cycle is not None and cycle.more_body and not cycle.response_complete:
            scope: dict[str, Any] = cast(dict[str, Any], cycle.scope)  # an ASGI extension key
            scope[ANSWERED_BY_SERVER] = 400
        super().send_400_response(msg)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)
