"""Access logs (nginx in front of a registry, the Distribution registry's own) → spool tables.

Two line formats are understood, both written by the log's own software:

- ``combined`` (nginx's predefined format; the registry writes the same through gorilla's
  ``CombinedLoggingHandler``)::

    $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    "$http_referer" "$http_user_agent"

- ``pullstats``: combined plus `` $msec "$upstream_http_docker_content_digest"`` (the time to
  the millisecond and the manifest digest the registry returned, ``-`` when absent).

A request's ``user`` is ``$remote_user`` (``-``, no credentials, gives ""): nginx's ``\\x22``
and ``\\x5C`` undone, kept as :func:`~pullstats.ingest.records.user_name` keeps it. The
registry's own log always writes ``-`` there (gorilla's user is the URL's, not the
authenticated one).

Responsible for turning a run of chunks of lines (:mod:`pullstats.ingest.log_lines` reads
them) into requests with :data:`SPOOL_SCHEMA`, left in a DuckDB table
(:data:`STAGED_REQUESTS`), plus the skipped lines counted by reason (:class:`LogParser`).
Everything per line happens in DuckDB, many chunks per query, on all its threads; the formats'
grammar is in :mod:`pullstats.ingest.access_log_formats`, and the queries are the ``ingest.log_*``
steps (:mod:`pullstats.ingest.steps`), run by :class:`~pullstats.duckdb_engine.DuckDBEngine`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from pullstats.duckdb_engine import DuckDBEngine, count_rows, own_tables
from pullstats.ingest import steps
from pullstats.ingest.access_log_formats import (
    ERROR_REASONS,
    LINE_CHUNK_SCHEMA,
    LOG_FORMATS,
    LogFormat,
    line_pattern,
)
from pullstats.ingest.log_lines import LineChunk
from pullstats.ingest.notifications import (
    CANONICAL_IPV4,
    DEFAULT_MAX_SKEW,
    normal_address,
)
from pullstats.ingest.time_window import TimeWindow
from pullstats.steps import Step

__all__ = ["STAGED_REQUESTS", "LogParser", "ParsedLines"]


@dataclass
class ParsedLines:
    """What a run of chunks held; its requests are in :data:`STAGED_REQUESTS`."""

    lines: int = 0
    used: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # line, reason, text
    hours: set[int] = field(default_factory=set)  # UTC hours (µs // 3.6e9) of the requests


#: The temporary table (on the parser's connection) holding the requests of the last call of
#: :meth:`LogParser.parse`, with the columns of :data:`SPOOL_SCHEMA` (and a few more); the
#: import writes it to the lake before the next call replaces it.
STAGED_REQUESTS = "log_lines"


class LogParser:
    """Parses the chunks of one source, in order, on a DuckDB connection.

    :meth:`parse` streams any number of chunks through one query, so DuckDB matches lines on
    all its threads while the next block is read. That query writes the spool rows of the
    requests where they stay, :data:`STAGED_REQUESTS` (no second copy); only counts, the
    first errors and the hours come back to Python.

    Event ids are ``log-<md5 of the line>-<occurrence>`` (the line with a Unix end, whatever
    end it had), the occurrence counting identical lines of the source up to this one, so
    re-importing a file (or a longer version of it, or a copy with CRLF ends) gives the same
    ids while two identical lines stay two requests. Identical lines carry the same time, so
    they are near each other: the count is carried from one call of :meth:`parse` to the
    next, not across the whole file (which would need memory for every line).
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
        window: TimeWindow | None = None,
    ) -> None:
        """``cut_at_quotes=False`` takes every field from the pattern's groups: slower, and the
        reference the quick path is tested against. A request time outside ``window``
        (default: :class:`~pullstats.ingest.time_window.TimeWindow` at ``received_us`` plus
        ``max_skew``) is skipped as ``timestamp_out_of_range``. ``max_errors``: how many bad
        lines of each error reason are listed (:attr:`ParsedLines.errors`), over all calls."""
        if log_format not in LOG_FORMATS:
            raise ValueError(f"unknown log format {log_format!r}")
        self._db = connection
        self._engine = DuckDBEngine()
        self._format = log_format
        window = window or TimeWindow.at(int(received_us), max_skew)
        self._params = {
            "pattern": line_pattern(log_format),
            "cut": cut_at_quotes,
            "received_us": int(received_us),
            "earliest_us": window.earliest_us,
            "latest_us": window.latest_us,
        }
        # per reason: a file of one kind of bad line would otherwise hide every other kind
        self._errors_left = dict.fromkeys(ERROR_REASONS, max_errors)
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
            self._create("log_lines", steps.LOG_LINES, self._params, log_format=self._format)
        except duckdb.Error:
            if failure:  # reading failed (damaged gzip, …): that is the error to report
                raise failure[0] from None
            raise
        finally:
            self._db.unregister("log_chunk")
        self._normalise_addresses()
        result = ParsedLines()
        for reason, count in self._rows(steps.LOG_REASONS):
            result.lines += int(count)
            if reason is None:
                result.used = int(count)
            else:
                result.skipped[str(reason)] = int(count)
        wanted = [r for r in ERROR_REASONS if r in result.skipped and self._errors_left[r]]
        if wanted:
            params = {"reasons": wanted, "limit": max(self._errors_left[r] for r in wanted)}
            for n, reason, text in self._rows(steps.LOG_ERRORS, params):
                if self._errors_left[reason] > 0:
                    self._errors_left[reason] -= 1
                    result.errors.append((int(n), str(reason), str(text)))
        if result.used:
            result.hours = {int(hour) for (hour,) in self._rows(steps.LOG_HOURS)}
            self._create("log_repeats", steps.LOG_REPEATS)
            # the ids as the classification wrote them (every occurrence 1), for the next call
            self._create("log_previous", steps.LOG_REQUEST_IDS)
            if count_rows(self._db, "log_repeats"):
                numbered = self._statement(steps.LOG_NUMBERED)
                self._db.execute(
                    f"UPDATE log_lines SET id = numbered.id FROM ({numbered}) AS numbered"
                    " WHERE log_lines.n = numbered.n"
                )
            self._carry = True
        self._db.execute("DELETE FROM log_lines WHERE reason IS NOT NULL")
        return result

    def _statement(
        self, step: Step, params: dict[str, object] | None = None, **options: object
    ) -> str:
        """``step``'s SQL over this connection's tables (``log_chunk``, ``log_lines`` …: each
        input is the table of its name), its parameters bound."""
        return self._engine.statement(self._db, step, own_tables(step), params, **options)

    def _create(
        self, table: str, step: Step, params: dict[str, object] | None = None, **options: object
    ) -> None:
        """Replace the temporary ``table`` with ``step``'s result."""
        self._engine.create_table(self._db, table, step, own_tables(step), params, **options)

    def _rows(self, step: Step, params: dict[str, object] | None = None) -> list[tuple[Any, ...]]:
        return self._db.execute(self._statement(step, params)).fetchall()

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
        for (address,) in self._rows(
            steps.LOG_ADDRESSES, {"canonical_ipv4": CANONICAL_IPV4.pattern}
        ):
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
            self._create("log_seen", steps.LOG_SEEN)
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
                yield pa.record_batch([pa.array(numbers), chunk.lines], LINE_CHUNK_SCHEMA)
        except BaseException as error:
            failure.append(error)
            raise

    return pa.RecordBatchReader.from_batches(LINE_CHUNK_SCHEMA, batches())
