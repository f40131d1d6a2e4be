"""Stage 1's writer: batches of requests → the lake's day-partitioned ``requests`` files.

:class:`RequestWriter` sets aside what breaks a record rule, drops what the lake already holds,
hashes the addresses and users, enriches and writes one new Parquet file per touched day,
during one job run: compaction (:mod:`pullstats.lake.compaction`) hands it each batch of spool
records, and :func:`ingest_requests` is the same path for bulk sources (``ingest logs``),
which skip the spool.
"""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pullstats.action_window import days_to_reclassify
from pullstats.db.keys import shared_secret
from pullstats.db.state import add_pending_days
from pullstats.duckdb_engine import DuckDBEngine, Source, count_rows
from pullstats.enrich import (
    ADDRESS_COLUMNS,
    USER_AGENT_COLUMNS,
    enrich_addresses,
    enrich_user_agents,
)
from pullstats.ingest.record_rules import record_problem_params
from pullstats.ingest.time_window import TimeWindow
from pullstats.job_lock import check_job_lock
from pullstats.lake.damaged_files import read_files
from pullstats.lake.day_writing import day_span, write_days
from pullstats.lake.ip_hash import IP_HASH_KEY, hash_ips
from pullstats.lake.set_aside import set_aside_requests
from pullstats.lake.steps import (
    BATCH_DAYS,
    FIRST_ARRIVALS,
    LAKE_REQUESTS,
    NEW_ADDRESSES,
    NEW_REQUESTS,
    NEW_USER_AGENTS,
    NEW_USERS,
    REPEATS,
    REQUEST_IDS,
    UNUSABLE,
    USABLE,
)
from pullstats.lake.user_hash import hash_users, user_key
from pullstats.lake_files import REQUESTS, day_files, day_folder, publish
from pullstats.runtime import Runtime
from pullstats.steps import Step
from pullstats.timestamps import DAY_US, from_micros

#: How many days either side of its own a request's event id is looked for in the lake. A
#: registry's retry repeats its event, time included, so it lands on the same day; a sender
#: that stamps each delivery with its own time (or two relays of one event) gives copies whose
#: times differ by the delay between them, and those within a day of each other are always on
#: the same or neighbouring days. Each day further would have every run read one more day of
#: ids (docs/data-definitions.md, "Requests").
REPEAT_REACH_DAYS = 1


def days_holding_copies(days: Iterable[date]) -> set[date]:
    """The days whose requests may hold an earlier copy of a request on one of ``days``."""
    reach = range(-REPEAT_REACH_DAYS, REPEAT_REACH_DAYS + 1)
    return {day + timedelta(days=offset) for day in days for offset in reach}


def ingest_requests(
    writer: RequestWriter, source: str, *, checked: bool = False
) -> tuple[int, set[date]]:
    """Bulk sources (access logs, …) → the lake directly, skipping the spool's JSON round trip.

    ``source`` names a table or view on the writer's connection with :data:`SPOOL_SCHEMA`. The
    caller holds the job lock. Events already in the lake are dropped; the days whose actions
    may change are recorded as pending for ``process``. Returns the number of requests written
    and their days. ``checked``: see :meth:`RequestWriter.write`.
    """
    written = writer.write(source, checked=checked)  # which records the pending days
    return written.requests, written.days


class Written(NamedTuple):
    """What one :meth:`RequestWriter.write` added to the lake."""

    requests: int  # how many were written
    days: set[date]  # the days they are on
    reclassify: set[date]  # the days whose actions may have changed (days_to_reclassify)


class RequestWriter:
    """Hashes, enriches, de-duplicates and writes batches of requests during one job run.

    The engine code of stage 1's steps (:mod:`pullstats.lake.steps`): it runs them with
    :class:`~pullstats.duckdb_engine.DuckDBEngine` on its connection, binding the batch and the
    run's tables by name, and writes each day's rows (``lake.requests``) with ``COPY … TO``.

    The caller holds the job lock, so nothing else writes to the lake meanwhile. That lets the
    writer keep, on its DuckDB connection and for the whole run:

    - the ids of the lake's requests, read once per Parquet file of a day the run touches or
      of a day either side of one (:func:`days_holding_copies`; before, every batch re-read
      every id of its days: quadratic in the day's size);
    - each distinct client address with its keyed hash and enrichment, and each distinct user
      agent with its tool and version: looked up once per run, not once per batch or per row.

    A request timed outside the accepted window (from 2000-01-01 to the clock plus
    ``PULLSTATS_MAX_CLOCK_SKEW`` at the start of the run), or breaking a rule every ingest path
    enforces (:mod:`pullstats.ingest.record_rules`), is set aside, not written: a spool written
    by an older version or by hand may hold some, and the later stages cannot handle them.
    """

    def __init__(self, runtime: Runtime, connection: duckdb.DuckDBPyConnection) -> None:
        self._runtime = runtime
        self._db = self.connection = connection
        self._engine = DuckDBEngine(runtime.settings)
        # the installation's key, shared by every node (db/keys.py)
        self._key = shared_secret(runtime.sessions, runtime.paths, IP_HASH_KEY)
        self._user_key = user_key(self._key)
        #: the request times it accepts, fixed for the run (a parser that checks its rows for
        #: :meth:`write`'s ``checked`` takes this one)
        self.window = TimeWindow.now(runtime.settings.max_clock_skew)
        self.set_aside: Counter[str] = Counter()  # requests set aside so far, by reason
        self._read: set[str] = set()  # Parquet files (lake locations) whose ids are in lake_ids
        self._ids = 0
        self._kept = 0  # tables of kept rows made so far (_keep)
        enriched = ", ".join(f"{name} VARCHAR" for name in ADDRESS_COLUMNS)
        agents = ", ".join(f"{name} VARCHAR" for name in USER_AGENT_COLUMNS)
        self._db.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE lake_ids (id VARCHAR);
            CREATE OR REPLACE TEMP TABLE lake_addresses (ip VARCHAR, ip_hash BLOB, {enriched});
            CREATE OR REPLACE TEMP TABLE lake_agents (ua VARCHAR, {agents});
            CREATE OR REPLACE TEMP TABLE lake_users (user VARCHAR, user_hash BLOB);
            """
        )

    def write_table(self, batch: pa.Table) -> Written:
        """:meth:`write` for an Arrow table with :data:`SPOOL_SCHEMA`."""
        if batch.num_rows == 0:
            return Written(0, set(), set())
        self._db.register("lake_incoming", batch)
        try:
            self._db.execute("CREATE OR REPLACE TEMP TABLE lake_batch AS FROM lake_incoming")
        finally:
            self._db.unregister("lake_incoming")
        try:
            return self.write("lake_batch")
        finally:
            self._db.execute("DROP TABLE lake_batch")

    def write(self, table: str, *, checked: bool = False) -> Written:
        """Write the requests of table ``table`` (:data:`SPOOL_SCHEMA`) that are new to the
        lake, as one Parquet file per day.

        ``table`` is left as it is. Where a step drops rows (set aside, repeated, already in
        the lake), its result is kept in a temporary table the next steps read instead, made
        only when a cheap check says there may be rows to drop (as the DELETEs before it ran).

        ``checked``: the rows were made in this run by a parser that enforces the record rules
        itself, within this writer's window or a narrower one (the access-log parser: tested
        by ``tests/ingest/test_access_log_properties.py``), so they are not checked again (a
        pass of four regular expressions over every row: 0.56 s of a 2 M-line log). A spool's
        records always are.
        """
        kept: list[str] = []
        try:
            return self._write(table, kept, checked)
        finally:
            for name in kept:
                self._db.execute(f"DROP TABLE IF EXISTS {name}")

    def _write(self, table: str, kept: list[str], checked: bool) -> Written:
        if not checked and self._set_aside_unusable(table):
            table = self._keep(kept, USABLE, {"batch": table}, record_problem_params(self.window))
        # a registry retries a notification with the same id: keep its first arrival
        if self._rows(REPEATS, {"batch": table}):
            table = self._keep(kept, FIRST_ARRIVALS, {"batch": table})
        days = [from_micros(int(day) * DAY_US).date() for day, _ in self._batch_days(table)]
        # the copy the lake holds wins, even one timed on a neighbouring day
        self._read_ids(days_holding_copies(days))
        if self._ids:
            table = self._keep(kept, NEW_REQUESTS, {"batch": table, "ids": "lake_ids"})
        count = count_rows(self._db, table)
        if count == 0:
            return Written(0, set(), set())
        earliest = {
            from_micros(int(day) * DAY_US).date(): int(first)
            for day, first in self._batch_days(table)
        }
        self._enrich_new(table)
        reclassify = days_to_reclassify(earliest)
        check_job_lock()  # publishing: only while the job lock is held still
        # pending before the files are in the lake: a run killed between the two would leave
        # days whose requests a rerun drops as already there, and no one would classify them
        with self._runtime.sessions.begin() as session:
            add_pending_days(session, reclassify)
        written = self._publish(table, sorted(earliest))
        return Written(count, written, reclassify)

    def _relation(
        self, step: Step, inputs: Mapping[str, Source], params: Mapping[str, object] | None = None
    ) -> duckdb.DuckDBPyRelation:
        return self._engine.relation(self._db, step, inputs, params)

    def _rows(self, step: Step, inputs: Mapping[str, Source]) -> list[tuple[Any, ...]]:
        return self._relation(step, inputs).fetchall()

    def _batch_days(self, table: str) -> list[tuple[Any, ...]]:
        return self._rows(BATCH_DAYS, {"batch": table})

    def _keep(
        self,
        kept: list[str],
        step: Step,
        inputs: Mapping[str, Source],
        params: Mapping[str, object] | None = None,
    ) -> str:
        """A new temporary table of ``step``'s rows (added to ``kept``), for the next steps."""
        self._kept += 1
        name = f"lake_kept_{self._kept}"
        self._engine.create_table(self._db, name, step, inputs, params)
        kept.append(name)
        return name

    def _set_aside_unusable(self, table: str) -> bool:
        """Move the requests of ``table`` no later stage can take to ``lake/set-aside``; True
        if there were any (one pass, which finds nothing in the usual case)."""
        found = self._relation(
            UNUSABLE, {"batch": table}, record_problem_params(self.window)
        ).to_arrow_table()
        if found.num_rows == 0:
            return False
        # no raw address or user name outlives the spool: the set-aside copy keeps their
        # keyed hashes only
        hashed = (
            found.drop_columns(["ip", "user", "problem"])
            .append_column(
                "ip_hash", hash_ips(pc.fill_null(found["ip"].combine_chunks(), ""), self._key)
            )
            .append_column("user_hash", hash_users(found["user"].combine_chunks(), self._user_key))
        )
        problems = found["problem"]
        for reason in pc.unique(problems).to_pylist():
            rows = hashed.filter(pc.equal(problems, reason))
            set_aside_requests(self._runtime.settings, rows, reason)
            self.set_aside[reason] += rows.num_rows
        return True

    def _publish(self, table: str, days: list[date]) -> set[date]:
        """Write ``table``'s rows of the lake (``lake.requests``) as one new file per day and
        move the files into the lake.

        Days are copied out two at a time (:mod:`pullstats.lake.day_writing`), one query per
        day rather than ``PARTITION_BY``: DuckDB's partitioned writer costs twice as much.
        """
        batch_id = uuid.uuid4().hex
        staging = self._runtime.paths.job_tmp / f"compact-{batch_id}"
        staging.mkdir(parents=True)
        sources = {
            "batch": table,
            "addresses": "lake_addresses",
            "agents": "lake_agents",
            "users": "lake_users",
        }

        def rows(first: date, last: date) -> str:
            return self._engine.statement(self._db, LAKE_REQUESTS, sources, day_span(first, last))

        try:
            written = write_days(self._db, rows, days, staging)
            for day, file in written.items():
                key = f"{day_folder(REQUESTS, day)}/part-{batch_id}-0.parquet"
                publish(self._runtime.settings, file, key)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return set(written)

    def _read_ids(self, days: set[date]) -> None:
        """Add to ``lake_ids`` the ids of the files of ``days`` not read yet in this run."""
        settings = self._runtime.settings

        def unread() -> list[str]:
            return [
                file
                for day in sorted(days)
                for file in day_files(settings, REQUESTS, day)
                if file not in self._read
            ]

        def read(files: list[str]) -> None:  # one INSERT: a damaged file stops it whole
            if files:
                self._relation(REQUEST_IDS, {"requests": files}).insert_into("lake_ids")
                self._read.update(files)

        read_files(self._runtime, unread, read)
        self._ids = count_rows(self._db, "lake_ids")

    def _enrich_new(self, table: str) -> None:
        """Hash and enrich the addresses, user agents and users of ``table`` not seen in the
        run (``lake.new_addresses`` → ``lake.hash_ips`` and ``lake.enrich_addresses``;
        ``lake.new_user_agents`` → ``lake.enrich_user_agents``; ``lake.new_users`` →
        ``lake.hash_users``)."""

        def addresses(ips: pa.Array) -> dict[str, pa.Array]:
            hashed = {"ip_hash": hash_ips(ips, self._key)}
            return hashed | enrich_addresses(ips, self._runtime.settings)

        known = "lake_addresses"
        self._add_new(NEW_ADDRESSES, {"batch": table, "addresses": known}, known, addresses)
        known = "lake_agents"
        self._add_new(NEW_USER_AGENTS, {"batch": table, "agents": known}, known, enrich_user_agents)
        known = "lake_users"
        self._add_new(
            NEW_USERS,
            {"batch": table, "users": known},
            known,
            lambda users: {"user_hash": hash_users(users, self._user_key)},
        )

    def _add_new(
        self,
        step: Step,
        inputs: Mapping[str, Source],
        known: str,
        derive: Callable[[pa.Array], Mapping[str, pa.Array]],
    ) -> None:
        """Add to the run's table ``known`` the values ``step`` finds new in the batch, with
        what ``derive`` makes of them."""
        new = self._relation(step, inputs).to_arrow_table()
        if not new.num_rows:
            return
        (column,) = new.column_names
        values = new[column].combine_chunks()
        self._db.register("lake_new", pa.table({column: values, **derive(values)}))
        self._db.execute(f"INSERT INTO {known} BY NAME SELECT * FROM lake_new")
        self._db.unregister("lake_new")
