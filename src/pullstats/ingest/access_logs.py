"""Access logs (nginx in front of a registry, the Distribution registry's own) → spool tables.

Two line formats are understood, both written by the log's own software:

- ``combined`` (nginx's predefined format; the registry writes the same through gorilla's
  ``CombinedLoggingHandler``)::

    $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    "$http_referer" "$http_user_agent"

- ``pullstats``: combined plus `` $msec "$upstream_http_docker_content_digest"`` (the time to
  the millisecond and the manifest digest the registry returned, ``-`` when absent).

Responsible for turning a byte stream (plain, gzip, or stdin) into bounded chunks of lines
(:func:`read_line_chunks`) and a run of chunks into requests with :data:`SPOOL_SCHEMA`, left in
a DuckDB table (:data:`STAGED_REQUESTS`), plus the skipped lines counted by reason
(:class:`LogParser`). Python only finds the line ends, with NumPy; everything per line happens
in DuckDB, many chunks per query, on all its threads.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, Protocol

import duckdb
import numpy as np
import pyarrow as pa

from pullstats.duckdb_engine import count_rows
from pullstats.ingest.notifications import (
    CANONICAL_IPV4,
    DEFAULT_MAX_SKEW,
    DIGEST,
    TAG,
    normal_address,
)
from pullstats.ingest.time_window import TimeWindow
from pullstats.names import repository_name_sql

__all__ = [
    "ERROR_REASONS",
    "LOG_FORMATS",
    "SKIP_REASONS",
    "STAGED_REQUESTS",
    "LineChunk",
    "LogFormat",
    "LogParser",
    "ParsedLines",
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
    "timestamp_out_of_range",  # before 2000 or past the clock plus PULLSTATS_MAX_CLOCK_SKEW
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
_HEAD = r"(\S+) \S+ \S+ \[([^\]]*)\] "  # addr, ident, user, [time], up to the request
_STATUS = r" ([0-9]{3}) (?:[0-9]+|-) "  # between the request and the referer
_MSEC = r" ([0-9]{1,12}\.[0-9]{3}) "  # between the user agent and the digest
_COMBINED = "^" + _HEAD + _QUOTED + _STATUS + r'"(?:[^"\\]|\\.)*" ' + _QUOTED
_PULLSTATS_TAIL = _MSEC + _QUOTED
_LINE_END = r"\r?\n?$"

# The registry's grammar, taken from the notification parser so both sources agree.
_IPV4 = r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}"
_IPV6 = r"[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*"


def quick_match(log_format: LogFormat) -> str:
    """A SQL condition on ``p``, a line split at its quotes, for lines without an escaped quote
    (``\\"``): it holds only if the line matches :func:`line_pattern` with each quoted field
    between two consecutive quotes, so the pieces are the fields. A line it does not hold for
    is left to the whole pattern.

    Without an escaped quote a quoted piece may hold any text, so only the short pieces
    between the quoted fields are matched, each against its part of the pattern. Most of a
    line is in its quoted fields (request, user agent, digest): this costs about half of
    matching the whole line.
    """
    ends = "('', E'\\n', E'\\r\\n', E'\\r')"  # what _LINE_END allows after the last quote
    combined = f"(len(p) = 7 AND p[7] IN {ends})"
    pullstats = f"(len(p) = 9 AND p[9] IN {ends} AND regexp_full_match(p[7], '{_MSEC}'))"
    tail = {"combined": combined, "pullstats": pullstats}.get(log_format)
    return (
        f"p[5] = ' ' AND {tail or f'({combined} OR {pullstats})'}"
        f" AND regexp_full_match(p[3], '{_STATUS}') AND regexp_full_match(p[1], '{_HEAD}')"
    )


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

    @property
    def nbytes(self) -> int:
        return int(self.lines.nbytes)


@dataclass
class ParsedLines:
    """What a run of chunks held; its requests are in :data:`STAGED_REQUESTS`."""

    lines: int = 0
    used: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # line, reason, text
    hours: set[int] = field(default_factory=set)  # UTC hours (µs // 3.6e9) of the requests


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: memoryview, /) -> int: ...


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

    def readinto(self, buffer: memoryview, /) -> int:
        count = self._source.readinto(buffer)
        self.consumed += count
        return count

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
    stream: _Readable, position: Callable[[], int], block_bytes: int | None = None
) -> Iterator[LineChunk]:
    """Split a byte stream into chunks of whole lines, about ``block_bytes`` (default
    :data:`BLOCK_BYTES`) each.

    Each block is read straight into a fresh buffer of Arrow's memory pool (which reuses freed
    memory, so no page faults and no copy), lines are found with NumPy, and the chunk is one
    Arrow array over the buffer. Only the unfinished last line is copied, to the next block.
    Bytes that are not UTF-8 are replaced (U+FFFD) so a damaged line is counted, not fatal.
    """
    block_bytes = block_bytes or BLOCK_BYTES
    carry = b""
    next_line = 1
    while True:
        buffer = pa.allocate_buffer(len(carry) + block_bytes)
        view = memoryview(buffer).cast("B")
        view[: len(carry)] = carry
        filled = len(carry) + _read_full(stream, view[len(carry) :])
        view.release()
        if filled == len(carry):  # end of the source
            if carry:  # a last line without its newline
                yield LineChunk(_lines_array(buffer, np.array([filled])), next_line, position())
            return
        data = np.frombuffer(buffer, dtype=np.uint8, count=filled)
        ends = np.flatnonzero(data == 0x0A) + 1
        if len(ends) == 0:
            if filled > MAX_LINE_BYTES:
                raise ValueError(
                    f"line {next_line} is longer than {MAX_LINE_BYTES} bytes; not an access log"
                )
            carry = data.tobytes()
            continue
        cut = int(ends[-1])
        carry = data[cut:].tobytes()
        yield LineChunk(_lines_array(buffer, ends), next_line, position())
        next_line += len(ends)


def _read_full(stream: _Readable, view: memoryview) -> int:
    """Fill ``view`` unless the source ends first (a pipe hands over less at a time)."""
    filled = 0
    while filled < len(view):
        count = stream.readinto(view[filled:])
        if not count:
            break
        filled += count
    return filled


def _lines_array(buffer: pa.Buffer, ends: np.ndarray) -> pa.Array:
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    array = pa.Array.from_buffers(
        pa.large_string(), len(ends), [None, pa.py_buffer(offsets), buffer]
    )
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        # not UTF-8: replace the bad bytes; a replacement never creates or removes a newline
        data = buffer.to_pybytes()[: int(ends[-1])]
        fixed = data.decode("utf-8", errors="replace").encode()
        ends = np.flatnonzero(np.frombuffer(fixed, dtype=np.uint8) == 0x0A) + 1
        if len(fixed) and fixed[-1:] != b"\n":
            ends = np.append(ends, len(fixed))
        return _lines_array(pa.py_buffer(fixed), ends)
    return array


#: The temporary table (on the parser's connection) holding the requests of the last call of
#: :meth:`LogParser.parse`, with the columns of :data:`SPOOL_SCHEMA` (and a few more); the
#: import writes it to the lake before the next call replaces it.
STAGED_REQUESTS = "log_lines"

_BATCH_SCHEMA = pa.schema([("n", pa.int64()), ("line", pa.large_string())])


class LogParser:
    """Parses the chunks of one source, in order, on a DuckDB connection.

    :meth:`parse` streams any number of chunks through one query, so DuckDB matches lines on
    all its threads while the next block is read. That query writes the spool rows of the
    requests where they stay, :data:`STAGED_REQUESTS` (no second copy); only counts, the
    first errors and the hours come back to Python.

    Event ids are ``log-<md5 of the line>-<occurrence>``, the occurrence counting identical
    lines of the source up to this one, so re-importing a file (or a longer version of it)
    gives the same ids while two identical lines stay two requests. Identical lines carry the
    same time, so they are near each other: the count is carried from one call of
    :meth:`parse` to the next, not across the whole file (which would need memory for every
    line).
    """

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        log_format: LogFormat,
        received_us: int,
        *,
        max_errors: int = 5,
        cut_at_quotes: bool = True,
        max_skew: timedelta = DEFAULT_MAX_SKEW,
    ) -> None:
        """``cut_at_quotes=False`` takes every field from the pattern's groups: slower, and the
        reference the quick path is tested against. A request time outside
        :class:`~pullstats.ingest.time_window.TimeWindow` (``received_us`` plus ``max_skew``)
        is skipped as ``timestamp_out_of_range``."""
        if log_format not in LOG_FORMATS:
            raise ValueError(f"unknown log format {log_format!r}")
        self._db = connection
        window = TimeWindow.at(int(received_us), max_skew)
        # the line pattern holds no quote, so it can sit in the SQL as a literal (a constant
        # pattern is compiled once per query, a parameter would not be)
        self._classify_sql = (
            _CLASSIFY_SQL.replace("{quick}", quick_match(log_format))
            .replace("{pattern}", line_pattern(log_format))
            .replace("{cut}", "true" if cut_at_quotes else "false")
            .replace("{received}", str(int(received_us)))
            .replace("{earliest}", str(window.earliest_us))
            .replace("{latest}", str(window.latest_us))
        )
        self._errors_left = max_errors
        self._db.execute("CREATE OR REPLACE TEMP TABLE log_seen (id VARCHAR, k BIGINT)")
        self._carry = False  # whether log_previous holds the last call's requests

    def parse(self, chunks: Iterable[LineChunk]) -> ParsedLines:
        """Parse ``chunks`` (the next lines of the source) in one query; see the class.

        Their requests replace those of the last call in :data:`STAGED_REQUESTS`.
        """
        self._carry_counts()
        failure: list[BaseException] = []
        self._db.register("log_chunk", _numbered_lines(chunks, failure))
        try:
            self._db.execute(self._classify_sql)
        except duckdb.Error:
            if failure:  # reading failed (damaged gzip, …): that is the error to report
                raise failure[0] from None
            raise
        finally:
            self._db.unregister("log_chunk")
        self._normalise_addresses()
        result = ParsedLines()
        for reason, count in self._db.execute(
            "SELECT reason, count(*) FROM log_lines GROUP BY reason"
        ).fetchall():
            result.lines += int(count)
            if reason is None:
                result.used = int(count)
            else:
                result.skipped[str(reason)] = int(count)
        if self._errors_left > 0 and any(r in result.skipped for r in ERROR_REASONS):
            rows = self._db.execute(
                f"""
                SELECT n, reason,
                    coalesce(left(rtrim(line, E'\\r\\n'), 160), 'client address ' || ip)
                FROM log_lines
                WHERE reason IN {tuple(ERROR_REASONS)} ORDER BY n LIMIT ?
                """,
                [self._errors_left],
            ).fetchall()
            result.errors = [(int(n), str(reason), str(text)) for n, reason, text in rows]
            self._errors_left -= len(rows)
        if result.used:
            hours = self._db.execute(
                "SELECT DISTINCT ts // 3600000000 FROM log_lines WHERE reason IS NULL"
            ).fetchall()
            result.hours = {int(row[0]) for row in hours}
            self._db.execute(_REPEATS_SQL)
            # the ids as the classification wrote them (every occurrence 1), for the next call
            self._db.execute(
                "CREATE OR REPLACE TEMP TABLE log_previous AS "
                "SELECT id FROM log_lines WHERE reason IS NULL"
            )
            if count_rows(self._db, "log_repeats"):
                self._db.execute(_NUMBER_REPEATS_SQL)
            self._carry = True
        self._db.execute("DELETE FROM log_lines WHERE reason IS NOT NULL")
        return result

    def _normalise_addresses(self) -> None:
        """Write each request's address as the notification path does (normal_address): an
        IPv6 address in its one normal spelling, an IPv4-mapped one as IPv4, and one Python
        cannot read counted as ``invalid_address``.

        Almost every address of a log is an IPv4 address as ipaddress prints it, which stays
        as it is; the others are normalised once per distinct address, in Python. Only rows
        whose address changes are updated, and none when none does: nginx and the registry
        already write IPv6 in its normal form, and an updated table is slower to read after.
        """
        changed: dict[str, str | None] = {}
        for (address,) in self._db.execute(
            "SELECT DISTINCT ip FROM log_lines WHERE reason IS NULL"
            f" AND NOT regexp_full_match(ip, '{CANONICAL_IPV4.pattern}')"
        ).fetchall():
            normal = normal_address(address)
            if normal != address:
                changed[address] = normal
        if not changed:
            return
        mapping = pa.table(
            {"raw": list(changed), "normal": list(changed.values())},
            schema=pa.schema([("raw", pa.string()), ("normal", pa.string())]),
        )
        self._db.register("log_addresses", mapping)
        try:
            self._db.execute(
                """
                UPDATE log_lines SET ip = coalesce(a.normal, log_lines.ip),
                    reason = CASE WHEN a.normal IS NULL THEN 'invalid_address' END
                FROM log_addresses AS a
                WHERE log_lines.reason IS NULL AND log_lines.ip = a.raw
                """
            )
        finally:
            self._db.unregister("log_addresses")

    def _carry_counts(self) -> None:
        """The occurrence count of each text of the last call's requests, for this call.

        Counted only when a call follows, so the last (for a file, usually the only) one
        does not pay for it.
        """
        if self._carry:
            self._db.execute(_SEEN_SQL)
            self._db.execute("DROP TABLE log_previous; DROP TABLE log_repeats")
        else:
            self._db.execute("DELETE FROM log_seen")
        self._carry = False


def _numbered_lines(
    chunks: Iterable[LineChunk], failure: list[BaseException]
) -> pa.RecordBatchReader:
    """The chunks as a stream DuckDB reads on its threads; an error reading them is kept in
    ``failure``, as DuckDB would report it only as its own error."""

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for chunk in chunks:
                first = chunk.first_line
                numbers = np.arange(first, first + len(chunk.lines), dtype=np.int64)
                yield pa.record_batch([pa.array(numbers), chunk.lines], _BATCH_SCHEMA)
        except BaseException as error:
            failure.append(error)
            raise

    return pa.RecordBatchReader.from_batches(_BATCH_SCHEMA, batches())


# One pass over the chunks. A line is cut at its quotes, as no quoted field can hold a raw
# quote, and the short pieces between the quoted fields are matched (quick_match). A line with
# an escaped quote (\", written by gorilla), a quote outside the quoted fields or pieces that
# do not match is left to the whole line pattern: only *matched* (a DFA, several times faster
# than extracting its groups), then split by the pattern's groups. Most lines of a registry's log
# are blobs and pings: only lines that may be manifest requests (candidates) are cut into all
# their fields and checked; every expression is under a CASE, so DuckDB evaluates it for the
# rows that need it (a struct of fields cost more than all the rest). The reasons are tested
# in this order, so a PUT that got a 404 is a push, and a GET of a blob is a blob.
_CLASSIFY_SQL = f"""
CREATE OR REPLACE TEMP TABLE log_lines AS
WITH lines AS (
    SELECT n, line, p, cut,
        CASE WHEN cut THEN true ELSE regexp_matches(line, '{{pattern}}') END AS ok,
        CASE WHEN cut THEN p[2] WHEN NOT ok THEN ''
            ELSE regexp_extract(line, '{{pattern}}', 3) END AS request
    FROM (
        -- six quotes are a combined line's, eight (the seventh piece holding $msec) a pullstats
        -- line's; other counts, or the pieces between the quoted fields not matching theirs,
        -- leave the line to the whole pattern (which allows a quote in the user and [time])
        SELECT n, line, p,
            coalesce({{cut}} AND NOT contains(line, '\\"') AND {{quick}}, false) AS cut
        FROM (SELECT *, CASE WHEN {{cut}} THEN string_split(line, '"') END AS p FROM log_chunk)
    )
),
routed AS (
    SELECT *,
        ok AND suffix(line, E'\\n') AND contains(request, '/manifests/') AS candidate,
        split_part(split_part(split_part(request, ' ', 2), '?', 1), '#', 1) AS path
    FROM lines
),
fields AS (
    SELECT n, line, ok, candidate, path,
        CASE WHEN NOT candidate THEN NULL WHEN cut THEN split_part(p[1], ' ', 1)
            ELSE regexp_extract(line, '{{pattern}}', 1) END AS addr,
        -- the pullstats format's time is its $msec; [$time_local] only for combined lines
        -- (the user before it may hold brackets, so it is found by the pattern's own piece)
        CASE WHEN NOT candidate THEN NULL WHEN NOT cut THEN regexp_extract(line, '{{pattern}}', 2)
            WHEN len(p) = 7 THEN regexp_extract(p[1], '^{_HEAD}$', 2)
            ELSE '' END AS time,
        CASE WHEN NOT candidate THEN NULL WHEN cut THEN p[3][2:4]
            ELSE regexp_extract(line, '{{pattern}}', 4) END AS status,
        CASE WHEN NOT candidate THEN NULL WHEN cut THEN p[6]
            ELSE regexp_extract(line, '{{pattern}}', 5) END AS ua,
        CASE WHEN NOT candidate THEN NULL WHEN NOT cut THEN regexp_extract(line, '{{pattern}}', 6)
            WHEN len(p) = 9 THEN trim(p[7]) ELSE '' END AS msec,
        CASE WHEN NOT candidate THEN NULL WHEN NOT cut THEN regexp_extract(line, '{{pattern}}', 7)
            WHEN len(p) = 9 THEN p[8] ELSE '' END AS digest,
        CASE WHEN candidate THEN split_part(request, ' ', 1) END AS method,
        CASE WHEN candidate THEN split_part(path, '/', -1) END AS last
    FROM routed
),
paths AS (
    SELECT *,
        replace(replace(last, '%3A', ':'), '%3a', ':') AS reference,
        candidate AND prefix(path, '/v2/') AND length(path) > 4 + 11 + length(last)
            AND suffix(path, '/manifests/' || last) AS is_manifest,
        CASE
            WHEN msec <> '' THEN CAST(replace(msec, '.', '') AS BIGINT) * 1000
            WHEN time <> '' THEN epoch_us(try_strptime(time, '%d/%b/%Y:%H:%M:%S %z'))
        END AS ts
    FROM fields
),
named AS (
    SELECT *,
        CASE WHEN is_manifest THEN path[5:length(path) - 11 - length(last)] END AS name
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
            WHEN ts < {{earliest}} OR ts > {{latest}} THEN 'timestamp_out_of_range'
            WHEN method = 'PUT' THEN 'push'
            WHEN method = 'DELETE' THEN 'delete'
            WHEN method NOT IN ('GET', 'HEAD') THEN 'method'
            WHEN NOT status LIKE '2__' THEN 'non_2xx'
            WHEN NOT {repository_name_sql("name")} THEN 'invalid_name'
            -- one pattern of alternatives (a full match anchors them all) costs a quarter less
            -- than two patterns
            WHEN NOT regexp_full_match(reference, '{TAG.pattern}|{DIGEST.pattern}')
                THEN 'invalid_reference'
            WHEN NOT regexp_full_match(addr, '{_IPV4}|{_IPV6}') THEN 'invalid_address'
            WHEN digest NOT IN ('', '-')
                AND NOT regexp_full_match(digest, '{DIGEST.pattern}')
                THEN 'invalid_digest'
        END AS reason
    FROM named
)
-- a request's spool row (its id for the first occurrence of its text: parse numbers repeats);
-- the text only where the report needs it (errors)
SELECT n, reason,
    CASE WHEN reason IS NULL THEN 'log-' || md5(line) || '-1' END AS id,
    CASE WHEN reason IS NULL THEN ts END AS ts,
    CASE WHEN reason IS NULL THEN method END AS method,
    CASE WHEN reason IS NULL THEN name END AS name,
    CASE WHEN reason IS NOT NULL THEN NULL WHEN contains(reference, ':') THEN ''
        ELSE reference END AS tag,
    CASE WHEN reason IS NOT NULL THEN NULL WHEN contains(reference, ':') THEN reference
        WHEN digest = '-' THEN '' ELSE digest END AS digest,
    -- as written: parse normalises the addresses that are not canonical IPv4
    CASE WHEN reason IS NULL THEN addr END AS ip,
    CASE WHEN reason IS NOT NULL THEN NULL
        WHEN ua = '-' THEN ''
        WHEN NOT contains(ua, '\\') THEN left(ua, 1024)
        WHEN contains(ua, '\\x') THEN left(replace(replace(ua, '\\x22', '"'), '\\x5C', '\\'), 1024)
        ELSE left(replace(replace(ua, '\\"', '"'), '\\\\', '\\'), 1024)
    END AS ua,
    CASE WHEN reason IS NULL THEN 'log' END AS src,
    -- an arrival time that follows the file's order: it breaks ties within a second
    {{received}} + n AS recv,
    CASE WHEN reason IN {ERROR_REASONS!r} THEN line END AS line
FROM reasons
"""

# Nearly every line is unique, so a request's id is written for the first occurrence of its text
# and only repeats are numbered: texts that repeat within this call (found by a 64-bit hash of the
# id first, so the exact grouping runs on a handful of rows) or that the previous call held.
_REPEATS_SQL = """
CREATE OR REPLACE TEMP TABLE log_repeats AS
WITH requests AS (SELECT id FROM log_lines WHERE reason IS NULL)
SELECT id, 0 AS carried FROM requests
WHERE hash(id) IN (SELECT hash(id) FROM requests GROUP BY 1 HAVING count(*) > 1)
GROUP BY id HAVING count(*) > 1 AND id NOT IN (SELECT id FROM log_seen)
UNION ALL
SELECT id, k AS carried FROM log_seen WHERE id IN (SELECT id FROM requests)
"""
# the n-th occurrence of a text (counting those of earlier calls) gets the id ending in -n
_NUMBER_REPEATS_SQL = """
UPDATE log_lines SET id = numbered.id
FROM (
    SELECT n, left(id, -1) || (carried + row_number() OVER (PARTITION BY id ORDER BY n)) AS id
    FROM log_lines JOIN log_repeats USING (id)
    WHERE reason IS NULL
) AS numbered
WHERE log_lines.n = numbered.n
"""
# the occurrence counts of the last call's texts, carried to this one
_SEEN_SQL = """
CREATE OR REPLACE TEMP TABLE log_seen AS
SELECT id, coalesce(any_value(carried), 0) + count(*) AS k
FROM log_previous LEFT JOIN log_repeats USING (id)
GROUP BY id
"""
