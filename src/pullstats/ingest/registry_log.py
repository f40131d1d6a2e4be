"""The Distribution registry's own log → the manifest requests it refused.

Distribution notifies a manifest ``pull`` once its store has found the manifest, before the
handler decides the answer, and the event carries no status: a request it then refuses (a 404
for an OCI manifest asked for without an OCI ``Accept``) is notified like a served pull. Its own
log (logrus, ``log.formatter`` ``text`` or ``json``) ends every request with a ``response
completed`` entry (``response completed with error`` for an error) that holds the status under
the same request id as the notification::

    time="2026-12-04T05:31:04.058915716Z" level=error msg="response completed with error"
    err.code="manifest unknown" ... http.request.id=defa71ea-... http.request.method=GET
    ... http.request.uri=/v2/app/manifests/v1 ... http.response.status=404 ...

This module reads one such line: :func:`parse_line` gives the :class:`Response` of a manifest
``GET`` or ``HEAD``, and :func:`is_refused` says whether its status is outside 200-299. Other
entries, the access-log lines the registry writes to the same stream and anything else are not
responses. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pullstats.ingest.errors import UnparseableRequest
from pullstats.ingest.notifications import REQUEST_ID, parse_timestamp

#: The messages that end a request in Distribution's log.
RESPONSE_MESSAGES = frozenset({"response completed", "response completed with error"})
#: What a line must contain to be worth parsing (checked on whole chunks first).
MARKERS = ("response completed", "/manifests/")

# logrus's text formatter: key=value, the value quoted (Go's %q) when it holds anything
# outside [A-Za-z0-9-._/@^+]
_FIELD = re.compile(r'([A-Za-z0-9_.]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)')
_MANIFEST_PATH = re.compile(r"/v2/(.+)/manifests/([^/?#]+)(?:\?.*)?", re.DOTALL)
_PULL_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Response:
    """How the registry answered one manifest ``GET`` or ``HEAD``."""

    request_id: str
    time_us: int  # when the response completed, µs since the epoch, UTC
    method: str
    name: str  # the repository, as the request's path gave it
    reference: str  # tag or digest
    status: int


def is_refused(response: Response) -> bool:
    """Whether the registry refused the request: any status outside 200-299."""
    return not 200 <= response.status <= 299


def parse_line(line: str) -> Response | None:
    """The manifest response a log line records; None for any other line (another message, a
    blob or a push, an access-log line). :class:`UnparseableRequest` when a ``response
    completed`` entry of a manifest ``GET``/``HEAD`` lacks a field or holds an invalid one."""
    fields = _fields(line)
    if fields is None or fields.get("msg") not in RESPONSE_MESSAGES:
        return None
    method = fields.get("http.request.method")
    path = _MANIFEST_PATH.fullmatch(str(fields.get("http.request.uri", "")))
    if method not in _PULL_METHODS or path is None:
        return None
    request_id = fields.get("http.request.id")
    if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
        raise UnparseableRequest("no valid http.request.id")
    status = fields.get("http.response.status")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 999:
        raise UnparseableRequest("no valid http.response.status")
    when = fields.get("time")
    if not isinstance(when, str):
        raise UnparseableRequest("no time")
    return Response(request_id, parse_timestamp(when), str(method), path[1], path[2], int(status))


def _fields(line: str) -> dict[str, Any] | None:
    """A logrus entry's fields, from either formatter; None if the line is not an entry."""
    text = line.strip()
    if text.startswith("{"):
        try:
            entry = json.loads(text)
        except ValueError:
            return None
        return entry if isinstance(entry, dict) else None
    if not text.startswith("time="):
        return None
    return {key: _unquoted(value) for key, value in _FIELD.findall(text)}


def _unquoted(value: str) -> str:
    if not value.startswith('"'):
        return value
    try:  # Go's %q is JSON's escaping for everything a request id, path or time holds
        text = json.loads(value)
    except ValueError:
        return value[1:-1]
    return text if isinstance(text, str) else value[1:-1]
