"""Parsing access-log bytes the way the import does, for the access-log tests.

The fixture files under ``tests/fixtures/logs/`` are written from the formats' documentation:
nginx's ``log_format combined`` (with its ``\\xHH`` escaping), the pullstats format (combined +
``$msec "$upstream_http_docker_content_digest"``), and the Distribution registry's access log
(gorilla/handlers ``CombinedLoggingHandler``: ``""`` for an empty referer, ``\\"`` and ``\\\\``
escapes), each with bad lines mixed in.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from pullstats.ingest.access_log_formats import LOG_FORMATS, LogFormat
from pullstats.ingest.access_logs import STAGED_REQUESTS, LogParser
from pullstats.ingest.log_lines import open_log, read_line_chunks
from pullstats.ingest.records import SPOOL_SCHEMA
from pullstats.timestamps import micros

LOG_FORMAT_NAMES: list[LogFormat] = list(LOG_FORMATS)
LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "logs"
D = "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf"
P = "sha256:c04b14da8d1441880ed3fe6106fb2cc6fa1c9661846ac0266b8a5ec8edf37b7c"
DOCKER_UA = (
    "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0-45-generic os/linux arch/amd64 "
    "UpstreamClient(Docker-Client/27.3.1 \\(linux\\))"
)


@dataclass
class Parsed:
    """A whole input's results: the parser's counts plus the requests it staged."""

    requests: pa.Table
    lines: int
    skipped: Counter[str]
    errors: list[tuple[int, str, str]]
    hours: set[int]


#: When the parser is told the lines arrive: after every fixture's lines (an import rejects
#: lines more than PULLSTATS_MAX_CLOCK_SKEW after it).
RECEIVED_US = micros(datetime(2027, 1, 1, tzinfo=UTC))


@cache
def _parsing_connection() -> duckdb.DuckDBPyConnection:
    """One DuckDB connection for every parse in a test process: a new one costs 20 ms, as
    much as a small parse, and the property tests parse thousands of times. A parser replaces the
    tables it uses when it is made, so parses on one connection do not see each other."""
    return duckdb.connect()


def parse_bytes(
    data: bytes,
    log_format: LogFormat = "auto",
    block_bytes: int = 1 << 20,
    *,
    per_chunk: bool = True,
    cut_at_quotes: bool = True,
) -> Parsed:
    """Parse a whole input the way the import does; ``per_chunk`` runs one query per chunk (so
    every chunk boundary is a boundary between queries too), else one query for all."""
    connection = _parsing_connection()
    parser = LogParser(
        connection,
        log_format,
        received_us=RECEIVED_US,
        max_errors=50,
        cut_at_quotes=cut_at_quotes,
    )
    stream, position = open_log(io.BufferedReader(io.BytesIO(data)))
    chunks = read_line_chunks(stream, position, block_bytes=block_bytes)
    results, staged = [], []
    for run in ([chunk] for chunk in chunks) if per_chunk else [chunks]:
        results.append(parser.parse(run))  # each call stages its own requests
        columns = ", ".join(SPOOL_SCHEMA.names)
        staged.append(
            connection.sql(f"SELECT {columns} FROM {STAGED_REQUESTS} ORDER BY recv")
            .to_arrow_table()
            .cast(SPOOL_SCHEMA)
        )
    merged = Parsed(pa.concat_tables(staged), 0, Counter(), [], set())
    for result in results:
        assert result.used + sum(result.skipped.values()) == result.lines
        merged.lines += result.lines
        merged.skipped.update(result.skipped)
        merged.errors.extend(result.errors)
        merged.hours |= result.hours
    assert merged.requests.num_rows == sum(result.used for result in results)
    return merged


def assert_same(parsed: Parsed, other: Parsed) -> None:
    """The same requests (ids included), counts, errors and hours."""
    assert parsed.requests.equals(other.requests)
    assert (parsed.lines, parsed.skipped, parsed.errors, parsed.hours) == (
        other.lines,
        other.skipped,
        other.errors,
        other.hours,
    )


def rows(parsed: Parsed) -> list[tuple[object, ...]]:
    columns = ("ts", "method", "name", "tag", "digest", "ip", "ua")
    return [tuple(row[c] for c in columns) for row in parsed.requests.to_pylist()]


def at(text: str) -> int:
    return micros(datetime.fromisoformat(text).astimezone(UTC))


#: The request and what follows it, of a good combined line (prefix an address, user and time).
GOOD = f'"GET /v2/library/alpine/manifests/3.20 HTTP/1.1" 200 12 "-" "{DOCKER_UA}"'
