"""Access logs (nginx in front of a registry, the Distribution registry's own) → spool tables.

Two line formats are understood, both written by the log's own software:

- ``combined`` (nginx's predefined format; the registry writes the same through gorilla's
  ``CombinedLoggingHandler``)::

    $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    "$http_referer" "$http_user_agent"

- ``pullstats``: combined plus `` $msec "$upstream_http_docker_content_digest"`` (the time to
  the millisecond and the manifest digest the registry returned, ``-`` when absent).

Responsible for turning a byte stream (plain, gzip, or stdin) into bounded chunks of lines
(:func:`read_line_chunks`) and a chunk of lines into requests with :data:`SPOOL_SCHEMA` plus
the skipped lines counted by reason (:class:`LogParser`). Parsing happens in DuckDB, a whole
chunk per query; there is no Python loop per line.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

import duckdb
import numpy as np
import pyarrow as pa

from pullstats.ingest.notifications import _DIGEST, _MAX_NAME, _NAME_COMPONENT, _TAG
from pullstats.ingest.records import SPOOL_SCHEMA

__all__ = [
    "ERROR_REASONS",
    "LOG_FORMATS",
    "SKIP_REASONS",
    "LineChunk",
    "LogFormat",
    "LogParser",
    "ParsedChunk",
    "line_pattern",
    "open_log",
    "read_line_chunks",
]

LogFormat = Literal["auto", "combined", "pullstats"]
LOG_FORMATS: tuple[LogFormat, ...] = ("auto", "combined", "pullstats")

#: Why a well-formed line is not a request (nothing is wrong with it).
IGNORED_REASONS = ("blank", "blob_request", "not_manifest", "push", "delete", "method", "non_2xx")
#: Why a line is bad input; the first few are reported with their file and line number.
ERROR_REASONS = (
    "unparseable",
    "invalid_time",
    "invalid_address",
    "invalid_name",
    "invalid_reference",
    "invalid_digest",
    "unterminated",
)
SKIP_REASONS = IGNORED_REASONS + ERROR_REASONS

#: Bytes read from a source per chunk (after decompression).
BLOCK_BYTES = 32 * 1024 * 1024
#: A line longer than this is not an access log line; reading stops with an error.
MAX_LINE_BYTES = 64 * 1024 * 1024

# A quoted field as both writers escape it: nginx writes " and \ as \x22 and \x5C, gorilla
# writes \" and \\; either way a raw " never appears inside.
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_COMBINED = (
    r"^(\S+) \S+ \S+ \[([^\]]*)\] " + _QUOTED + r" ([0-9]{3}) (?:[0-9]+|-) "
    r'"(?:[^"\\]|\\.)*" ' + _QUOTED
)
_PULLSTATS_TAIL = r" ([0-9]{1,12}\.[0-9]{3}) " + _QUOTED
_LINE_END = r"\r?\n?$"
_FIELDS = ["addr", "time", "request", "status", "ua", "msec", "digest"]

# The registry's grammar, taken from the notification parser so both sources agree.
_NAME = f"(?:{_NAME_COMPONENT.pattern})(?:/(?:{_NAME_COMPONENT.pattern}))*"
_IPV4 = r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}"
_IPV6 = r"[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*"


def line_pattern(log_format: LogFormat) -> str:
    """The RE2 pattern of a whole line; groups: addr, time, request, status, ua[, msec, digest]."""
    if log_format == "combined":
        return _COMBINED + "()()" + _LINE_END  # empty msec and digest groups keep the shape
    if log_format == "pullstats":
        return _COMBINED + _PULLSTATS_TAIL + _LINE_END
    return _COMBINED + f"(?:{_PULLSTATS_TAIL})?" + _LINE_END


@dataclass(frozen=True)
class LineChunk:
    """Consecutive lines of one source, each with its ``\\n`` (the last may lack it)."""

    lines: pa.Array  # large_string
    first_line: int  # 1-based number of the first line in its source
    position: int  # bytes of the source consumed so far (compressed bytes for gzip)


@dataclass
class ParsedChunk:
    requests: pa.Table  # SPOOL_SCHEMA
    lines: int
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # line, reason, text
    hours: set[int] = field(default_factory=set)  # UTC hours (µs // 3.6e9) of the requests


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Peekable(_Readable, Protocol):
    def peek(self, size: int = 0, /) -> bytes: ...


class _CountingReader:
    """Counts the bytes read from a source, so progress works for pipes and gzip alike."""

    def __init__(self, source: _Readable) -> None:
        self._source = source
        self.consumed = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        self.consumed += len(data)
        return data

    def position(self) -> int:
        return self.consumed


def open_log(source: _Peekable) -> tuple[_Readable, Callable[[], int]]:
    """The decompressed stream of ``source`` (gzip is recognised by its magic bytes), and a
    function giving how many bytes of ``source`` have been consumed so far."""
    counting = _CountingReader(source)
    if source.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=counting, mode="rb"), counting.position  # type: ignore[call-overload]
    return counting, counting.position


def read_line_chunks(
    stream: _Readable, position: Callable[[], int], block_bytes: int = BLOCK_BYTES
) -> Iterator[LineChunk]:
    """Split a byte stream into chunks of whole lines, about ``block_bytes`` each.

    Lines are found with NumPy and handed over as one Arrow array over the block's bytes.
    Bytes that are not UTF-8 are replaced (U+FFFD) so a damaged line is counted, not fatal.
    """
    carry = b""
    next_line = 1
    while True:
        block = stream.read(block_bytes)
        data = carry + block if carry else block
        if not block:
            if data:  # a last line without its newline
                yield LineChunk(_lines_array(data, np.array([len(data)])), next_line, position())
            return
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A) + 1
        if len(ends) == 0:
            if len(data) > MAX_LINE_BYTES:
                raise ValueError(
                    f"line {next_line} is longer than {MAX_LINE_BYTES} bytes; not an access log"
                )
            carry = data
            continue
        cut = int(ends[-1])
        carry = data[cut:]
        yield LineChunk(_lines_array(data[:cut], ends), next_line, position())
        next_line += len(ends)


def _lines_array(data: bytes, ends: np.ndarray) -> pa.Array:
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    array = pa.Array.from_buffers(
        pa.large_string(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        # not UTF-8: replace the bad bytes; a replacement never creates or removes a newline
        fixed = data.decode("utf-8", errors="replace").encode()
        ends = np.flatnonzero(np.frombuffer(fixed, dtype=np.uint8) == 0x0A) + 1
        if len(fixed) and fixed[-1:] != b"\n":
            ends = np.append(ends, len(fixed))
        return _lines_array(fixed, ends)
    return array


class LogParser:
    """Parses the chunks of one source, in order, on a DuckDB connection.

    Event ids are ``log-<md5 of the line>-<occurrence>``, the occurrence counting identical
    lines of the source up to this one, so re-importing a file (or a longer version of it)
    gives the same ids while two identical lines stay two requests. Identical lines carry the
    same time, so they are near each other: the count is carried from one chunk to the next,
    not across the whole file (which would need memory for every line).
    """

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        log_format: LogFormat,
        received_us: int,
        *,
        max_errors: int = 5,
    ) -> None:
        if log_format not in LOG_FORMATS:
            raise ValueError(f"unknown log format {log_format!r}")
        self._db = connection
        # the line pattern holds no quote, so it can sit in the SQL as a literal (a constant
        # pattern is compiled once per query, a parameter would not be)
        self._classify_sql = _CLASSIFY_SQL.replace("{pattern}", line_pattern(log_format))
        self._received_us = received_us
        self._max_errors = max_errors
        self._errors_left = max_errors
        self._db.execute("CREATE OR REPLACE TEMP TABLE log_seen (h VARCHAR, k BIGINT)")

    def parse(self, chunk: LineChunk) -> ParsedChunk:
        numbers = pa.array(
            np.arange(chunk.first_line, chunk.first_line + len(chunk.lines), dtype=np.int64)
        )
        self._db.register("log_chunk", pa.table({"n": numbers, "line": chunk.lines}))
        try:
            self._db.execute(self._classify_sql)
        finally:
            self._db.unregister("log_chunk")
        result = ParsedChunk(requests=self._requests(), lines=len(chunk.lines))
        for reason, count in self._db.execute(
            "SELECT reason, count(*) FROM log_lines WHERE reason IS NOT NULL GROUP BY reason"
        ).fetchall():
            result.skipped[str(reason)] = int(count)
        if self._errors_left > 0:
            rows = self._db.execute(
                f"""
                SELECT n, reason, left(rtrim(line, E'\\r\\n'), 160) FROM log_lines
                WHERE reason IN {tuple(ERROR_REASONS)} ORDER BY n LIMIT ?
                """,
                [self._errors_left],
            ).fetchall()
            result.errors = [(int(n), str(reason), str(text)) for n, reason, text in rows]
            self._errors_left -= len(rows)
        hours = self._db.execute("SELECT DISTINCT ts // 3600000000 FROM log_requests").fetchall()
        result.hours = {int(row[0]) for row in hours}
        return result

    def _requests(self) -> pa.Table:
        self._db.execute(_REQUESTS_SQL, [self._received_us])
        # carry the occurrence counts of this chunk's lines to the next chunk
        self._db.execute(
            """
            CREATE OR REPLACE TEMP TABLE log_seen AS
            SELECT h, max(k) AS k FROM log_requests GROUP BY h
            """
        )
        table = self._db.sql(
            f"SELECT {', '.join(SPOOL_SCHEMA.names)} FROM log_requests ORDER BY recv"
        ).to_arrow_table()
        return table.cast(SPOOL_SCHEMA)


# One pass over the chunk. The line pattern is only *matched* (a DFA, several times faster than
# extracting groups); the fields of a matching line are then cut out with string functions, as
# no field can hold a raw quote. Only a line with an escaped quote (\", written by gorilla) is
# split by the pattern's groups. The reasons are tested in this order, so a PUT that got a 404
# is a push, and a GET of a blob is a blob.
_CLASSIFY_SQL = f"""
CREATE OR REPLACE TEMP TABLE log_lines AS
WITH matched AS (
    SELECT n, line, regexp_matches(line, '{{pattern}}') AS ok,
        -- most lines of a registry's log are blobs and pings: only lines that may be
        -- manifest requests are cut into fields
        contains(line, '/manifests/') AS candidate
    FROM log_chunk
),
parts AS (
    SELECT n, line, ok, candidate,
        CASE WHEN ok AND candidate AND NOT contains(line, '\\"')
            THEN string_split(line, '"') END AS p
    FROM matched
),
fields AS (
    SELECT n, line, ok,
        CASE
            WHEN NOT ok THEN NULL
            WHEN NOT candidate THEN struct_pack(
                addr := '', time := '', request := split_part(line, '"', 2), status := '',
                ua := '', msec := '', digest := ''
            )
            WHEN p IS NULL THEN regexp_extract(line, '{{pattern}}', {_FIELDS!r})
            ELSE struct_pack(
                addr := split_part(p[1], ' ', 1),
                time := split_part(split_part(p[1], '[', 2), ']', 1),
                request := p[2],
                status := split_part(p[3], ' ', 2),
                ua := p[6],
                msec := trim(coalesce(p[7], ''), E' \\r\\n'),
                digest := coalesce(p[8], '')
            )
        END AS f
    FROM parts
),
requests AS (
    SELECT n, line, ok, f,
        split_part(f.request, ' ', 1) AS method,
        split_part(split_part(split_part(f.request, ' ', 2), '?', 1), '#', 1) AS path
    FROM fields
),
paths AS (
    SELECT *,
        replace(replace(split_part(path, '/', -1), '%3A', ':'), '%3a', ':') AS reference,
        prefix(path, '/v2/') AND length(path) > 4 + 11 + length(split_part(path, '/', -1))
            AND suffix(path, '/manifests/' || split_part(path, '/', -1)) AS is_manifest,
        CASE
            WHEN f.msec <> '' THEN CAST(replace(f.msec, '.', '') AS BIGINT) * 1000
            WHEN f.time <> '' THEN epoch_us(try_strptime(f.time, '%d/%b/%Y:%H:%M:%S %z'))
        END AS ts
    FROM requests
),
named AS (
    SELECT *,
        CASE WHEN is_manifest
            THEN path[5:length(path) - 11 - length(split_part(path, '/', -1))]
            ELSE '' END AS name
    FROM paths
),
reasons AS (
    SELECT *,
        CASE
            WHEN NOT suffix(line, E'\\n') THEN 'unterminated'
            WHEN NOT ok THEN
                CASE WHEN trim(line, E' \\t\\r\\n') = '' THEN 'blank' ELSE 'unparseable' END
            WHEN NOT is_manifest AND prefix(path, '/v2/') AND contains(path, '/blobs/')
                THEN 'blob_request'
            WHEN NOT is_manifest THEN 'not_manifest'
            WHEN ts IS NULL THEN 'invalid_time'
            WHEN method = 'PUT' THEN 'push'
            WHEN method = 'DELETE' THEN 'delete'
            WHEN method NOT IN ('GET', 'HEAD') THEN 'method'
            WHEN NOT f.status LIKE '2__' THEN 'non_2xx'
            WHEN length(name) > {_MAX_NAME} OR NOT regexp_full_match(name, '{_NAME}')
                THEN 'invalid_name'
            WHEN NOT (
                regexp_full_match(reference, '{_DIGEST.pattern}')
                OR regexp_full_match(reference, '{_TAG.pattern}')
            ) THEN 'invalid_reference'
            WHEN NOT (regexp_full_match(f.addr, '{_IPV4}') OR regexp_full_match(f.addr, '{_IPV6}'))
                THEN 'invalid_address'
            WHEN f.digest NOT IN ('', '-')
                AND NOT regexp_full_match(f.digest, '{_DIGEST.pattern}')
                THEN 'invalid_digest'
        END AS reason
    FROM named
)
-- the text is kept only where it is needed: requests (their id) and errors (the report)
SELECT n, reason,
    CASE WHEN reason IS NULL THEN ts END AS ts,
    CASE WHEN reason IS NULL THEN method END AS method,
    CASE WHEN reason IS NULL THEN name END AS name,
    CASE WHEN reason IS NULL THEN reference END AS reference,
    CASE WHEN reason IS NULL THEN f.addr END AS addr,
    CASE WHEN reason IS NULL THEN f.ua END AS ua,
    CASE WHEN reason IS NULL THEN f.digest END AS digest,
    CASE WHEN reason IS NULL OR reason IN {ERROR_REASONS!r} THEN line END AS line
FROM reasons
"""

# Requests only: the spool row, the id from the line's text and its occurrence, and an arrival
# time that follows the file's order (it breaks ties between requests of the same second).
_REQUESTS_SQL = """
CREATE OR REPLACE TEMP TABLE log_requests AS
WITH hashed AS (
    SELECT *, md5(line) AS h FROM log_lines WHERE reason IS NULL
),
counted AS (
    SELECT hashed.*,
        coalesce(log_seen.k, 0) + row_number() OVER (PARTITION BY hashed.h ORDER BY n) AS k
    FROM hashed LEFT JOIN log_seen USING (h)
)
SELECT
    'log-' || h || '-' || k AS id,
    h, k, ts,
    method,
    name,
    CASE WHEN contains(reference, ':') THEN '' ELSE reference END AS tag,
    CASE WHEN contains(reference, ':') THEN reference
         WHEN digest = '-' THEN ''
         ELSE digest END AS digest,
    lower(addr) AS ip,
    left(CASE
        WHEN ua = '-' THEN ''
        WHEN NOT contains(ua, '\\') THEN ua
        WHEN contains(ua, '\\x') THEN replace(replace(ua, '\\x22', '"'), '\\x5C', '\\')
        ELSE replace(replace(ua, '\\"', '"'), '\\\\', '\\')
    END, 1024) AS ua,
    'log' AS src,
    $1 + n AS recv
FROM counted
"""
