"""Stage 1's steps (lake/steps.py) on the DuckDB engine, with hand-made batches: what each
keeps, drops and writes, and that their rows have the columns the next step reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from pullstats.config import Settings
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.enrich import ADDRESS_COLUMNS, USER_AGENT_COLUMNS
from pullstats.ingest.record_rules import INVALID_RECORD, record_problem_params
from pullstats.ingest.records import SPOOL_SCHEMA
from pullstats.ingest.time_window import OUT_OF_WINDOW, TimeWindow
from pullstats.lake.steps import (
    ADDRESSES,
    AGENTS,
    BATCH_DAYS,
    FIRST_ARRIVALS,
    LAKE_REQUESTS,
    NEW_ADDRESSES,
    NEW_REQUESTS,
    NEW_USERS,
    NOTIFICATION_HOURS,
    REPEATS,
    UNUSABLE,
    USABLE,
    USERS,
)
from pullstats.lake_schema import REQUESTS
from pullstats.timestamps import DAY_US, micros

NOON = datetime(2026, 3, 4, 12, tzinfo=UTC)
WINDOW = record_problem_params(TimeWindow.now(timedelta(minutes=5)))


@pytest.fixture
def engine(tmp_path: Path) -> DuckDBEngine:
    return DuckDBEngine(Settings(data_dir=tmp_path))


def spool_row(id: str, at: datetime = NOON, **fields: object) -> dict[str, object]:
    row: dict[str, object] = dict(
        id=id, ts=micros(at), method="GET", name="acme/api", tag="1.0", digest="",
        ip="192.0.2.1", ua="docker/27.0", src="notification", recv=micros(at), user="",
    )  # fmt: skip
    return row | fields


def batch(*rows: dict[str, object]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=SPOOL_SCHEMA)


def test_the_batch_steps_keep_the_spool_columns_and_the_day_rows_are_the_lakes(
    engine: DuckDBEngine,
) -> None:
    empty: dict[str, object] = {"batch": []}
    spool = SPOOL_SCHEMA.names
    assert engine.arrow(USABLE, empty, WINDOW).column_names == spool
    assert engine.arrow(UNUSABLE, empty, WINDOW).column_names == [*spool, "problem"]
    assert engine.arrow(FIRST_ARRIVALS, empty).column_names == spool
    assert engine.arrow(NEW_REQUESTS, empty | {"ids": []}).column_names == spool
    day = {"day_start": 0, "day_end": DAY_US}
    rows = engine.arrow(LAKE_REQUESTS, empty | {"addresses": [], "agents": [], "users": []}, day)
    assert rows.column_names == list(REQUESTS.columns)
    assert rows.schema.types == REQUESTS.schema.types


def test_the_record_rules_split_a_batch_in_two(engine: DuckDBEngine) -> None:
    rows = batch(
        spool_row("ok"),
        spool_row("old", datetime(1999, 12, 31, tzinfo=UTC)),
        spool_row("no-ref", tag=""),
        spool_row("bad-ip", ip="not an address"),
    )
    usable = engine.arrow(USABLE, {"batch": rows}, WINDOW)
    unusable = engine.arrow(UNUSABLE, {"batch": rows}, WINDOW)
    assert usable["id"].to_pylist() == ["ok"]
    reasons = dict(zip(unusable["id"].to_pylist(), unusable["problem"].to_pylist(), strict=True))
    assert reasons == {"old": OUT_OF_WINDOW, "no-ref": INVALID_RECORD, "bad-ip": INVALID_RECORD}


def test_repeats_keep_the_first_arrival_and_the_lakes_ids_are_dropped(
    engine: DuckDBEngine,
) -> None:
    later = micros(NOON + timedelta(seconds=3))
    rows = batch(spool_row("a", recv=later, ua="late"), spool_row("a"), spool_row("b"))
    assert engine.arrow(REPEATS, {"batch": rows}).num_rows == 1
    assert engine.arrow(REPEATS, {"batch": rows.slice(1)}).num_rows == 0
    first = engine.arrow(FIRST_ARRIVALS, {"batch": rows}).sort_by("id")
    assert first.select(["id", "ua"]).to_pylist() == [
        {"id": "a", "ua": "docker/27.0"},
        {"id": "b", "ua": "docker/27.0"},
    ]
    known = pa.table({"id": ["b", "elsewhere"]})
    new = engine.arrow(NEW_REQUESTS, {"batch": first, "ids": known})
    assert new["id"].to_pylist() == ["a"]
    day = micros(NOON) // DAY_US
    assert engine.arrow(BATCH_DAYS, {"batch": rows}).to_pylist() == [
        {"day": day, "earliest": micros(NOON)}
    ]


def test_a_day_of_rows_joins_the_runs_addresses_agents_and_users(engine: DuckDBEngine) -> None:
    rows = batch(
        spool_row("a", name="alpine", ip=None, user=""),
        spool_row("b", name="grp/sub/app", user="ci-bot"),
        spool_row("c", NOON + timedelta(days=1), user="ci-bot"),
        spool_row("d", name="grp/web", user=None),  # a spool line from before users
    )
    addresses = pa.Table.from_pylist(
        [{"ip": ip, "ip_hash": ip.encode(), **dict.fromkeys(ADDRESS_COLUMNS, "x")}
         for ip in ("", "192.0.2.1")],
        schema=ADDRESSES.schema,
    )  # fmt: skip
    new = engine.arrow(NEW_ADDRESSES, {"batch": rows, "addresses": addresses.slice(0, 1)})
    assert new["ip"].to_pylist() == ["192.0.2.1"]  # a NULL address is '', already there
    agents = pa.Table.from_pylist(
        [{"ua": "docker/27.0", **dict.fromkeys(USER_AGENT_COLUMNS, "docker")}],
        schema=AGENTS.schema,
    )
    known_users = pa.table({"user": ["admin"], "user_hash": [b"h-admin"]}, USERS.schema)
    new_users = engine.arrow(NEW_USERS, {"batch": rows, "users": known_users})
    assert new_users["user"].to_pylist() == ["ci-bot"]  # once, and never '' or NULL
    users = pa.table({"user": ["admin", "ci-bot"], "user_hash": [b"h-admin", b"h-ci"]})
    start = micros(NOON) // DAY_US * DAY_US
    day = engine.arrow(
        LAKE_REQUESTS,
        {"batch": rows, "addresses": addresses, "agents": agents, "users": users},
        {"day_start": start, "day_end": start + DAY_US},
    ).sort_by("id")
    columns = ["id", "namespace", "repository", "ip_hash", "user_hash", "user_agent_tool"]
    assert day.select(columns).to_pylist() == [
        dict(id="a", namespace="library", repository="alpine", ip_hash=b"", user_hash=None,
             user_agent_tool="docker"),
        dict(id="b", namespace="grp", repository="sub/app", ip_hash=b"192.0.2.1",
             user_hash=b"h-ci", user_agent_tool="docker"),
        dict(id="d", namespace="grp", repository="web", ip_hash=b"192.0.2.1", user_hash=None,
             user_agent_tool="docker"),
    ]  # fmt: skip


def test_notification_hours_are_the_hours_of_notification_requests(
    engine: DuckDBEngine,
) -> None:
    at = [NOON + timedelta(minutes=59), NOON + timedelta(hours=1), NOON + timedelta(hours=3)]
    requests = pa.Table.from_pylist(
        [
            {"ts": when.replace(tzinfo=None), "source": source}
            for when, source in zip(at, ("notification", "notification", "log"), strict=True)
        ],
        schema=pa.schema([REQUESTS.schema.field("ts"), REQUESTS.schema.field("source")]),
    )
    hours = engine.arrow(NOTIFICATION_HOURS, {"requests": requests})["hour"].to_pylist()
    assert sorted(hours) == [datetime(2026, 3, 4, 12), datetime(2026, 3, 4, 13)]
