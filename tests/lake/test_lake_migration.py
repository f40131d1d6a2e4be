"""A lake of schema version 1 (before ``user_hash``) is migrated to version 2 when a command that
writes opens it, under the job lock, and counts exactly as before; a command that only reads
refuses it until then (lake_meta.py). A damaged file met on the way is set aside as every
stage's reads do (lake_damage.py), and the migration goes on with the rest."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pullstats.db.state import pending_days
from pullstats.ingest.records import PullRequestRecord
from pullstats.lake_meta import LakeVersionError
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros
from tests.conftest import catalog_settings, run_cli, write_spool

TABLES = ("requests", "actions")


def pull(event_id: str, ip: str, minute: int, user: str = "") -> PullRequestRecord:
    at = micros(datetime(2026, 1, 7, 10, minute, tzinfo=UTC))
    return PullRequestRecord(
        event_id, at, "GET", "acme/api", "1.0", "sha256:" + "ab" * 32, ip, "docker/27.3.1",
        "notification", at, "", user,
    )  # fmt: skip


def lake_files(data_dir: Path) -> list[Path]:
    return sorted(p for table in TABLES for p in (data_dir / "lake" / table).rglob("*.parquet"))


def make_version_1(data_dir: Path, *, keep_meta: bool = True) -> None:
    """The lake as the release before user_hash left it: the column gone from every file."""
    for path in lake_files(data_dir):
        table = pq.read_table(path)
        pq.write_table(table.drop_columns(["user_hash"]), path)
    meta = data_dir / "lake" / "_meta.json"
    if keep_meta:
        meta.write_text(json.dumps({"schema_version": 1, "written_by": "pullstats 0.1.0"}))
    else:
        meta.unlink()  # a lake from before the file


def pulls_of(data_dir: Path) -> list[tuple[object, ...]]:
    rows = []
    for path in sorted((data_dir / "lake" / "actions").rglob("*.parquet")):
        table = pq.read_table(path)
        columns = (table[c].to_pylist() for c in ("timestamp", "action", "ip_hash"))
        rows += zip(*columns, strict=True)
    return rows


@pytest.mark.parametrize("keep_meta", [True, False], ids=["version-1-file", "no-file"])
def test_a_version_1_lake_is_migrated_when_opened_to_write_and_counts_as_before(
    data_dir: Path, keep_meta: bool
) -> None:
    runtime = Runtime.open(catalog_settings(data_dir))
    write_spool(runtime, pull("a", "192.0.2.1", 0), pull("b", "192.0.2.2", 5))
    process(runtime)
    runtime.close()
    before = pulls_of(data_dir)
    assert len(before) == 2
    make_version_1(data_dir, keep_meta=keep_meta)
    assert all("user_hash" not in pq.read_schema(p).names for p in lake_files(data_dir))

    # a command that only reads says what to do, and changes nothing
    with pytest.raises(LakeVersionError, match=r"schema version 1; .* migrates it when"):
        Runtime.open(catalog_settings(data_dir), create=False)
    assert all("user_hash" not in pq.read_schema(p).names for p in lake_files(data_dir))
    assert (data_dir / "lake" / "_meta.json").exists() == keep_meta

    runtime = Runtime.open(catalog_settings(data_dir))  # a command that writes: migrated
    try:
        meta = json.loads((data_dir / "lake" / "_meta.json").read_text())
        assert meta["schema_version"] == 2
        for path in lake_files(data_dir):
            schema = pq.read_schema(path)
            assert schema.names.index("user_hash") == schema.names.index("ip_hash") + 1
            assert pq.read_table(path)["user_hash"].null_count == pq.read_metadata(path).num_rows
        assert pulls_of(data_dir) == before
        # the migrated days and new ones are read together
        write_spool(runtime, pull("c", "192.0.2.1", 7, user="ci-bot"))
        process(runtime)
        users = [
            value
            for path in (data_dir / "lake" / "actions").rglob("*.parquet")
            for value in pq.read_table(path)["user_hash"].to_pylist()
        ]
        assert len(users) == 3 and sum(value is not None for value in users) == 1
    finally:
        runtime.close()


def test_status_refuses_a_version_1_lake_in_one_line_and_process_migrates_it(
    data_dir: Path,
) -> None:
    runtime = Runtime.open(catalog_settings(data_dir))
    write_spool(runtime, pull("a", "192.0.2.1", 0))
    process(runtime)
    runtime.close()
    make_version_1(data_dir)
    refused = run_cli(data_dir, "status")
    assert refused.returncode == 1, refused
    assert refused.stderr.strip().count("\n") == 0, refused.stderr
    assert "run `pullstats process`" in refused.stderr
    done = run_cli(data_dir, "process")
    assert done.returncode == 0, done.stderr
    # what operations.md shows the migration saying (it said nothing: INFO, no handler)
    assert "lake: schema version 1 → 2: 1 files of requests" in done.stderr
    assert "lake: schema version 2 recorded (2 files rewritten, 0 damaged" in done.stderr
    assert run_cli(data_dir, "status").returncode == 0


def version_1_with_two_request_parts(data_dir: Path) -> tuple[list[tuple[object, ...]], Path]:
    """A version-1 lake of 7 January 2026: request parts {a, b} and {c}, one actions file of
    their three pulls by tag; the pulls, and the part of a and b."""
    runtime = Runtime.open(catalog_settings(data_dir))
    try:
        write_spool(runtime, pull("a", "192.0.2.1", 0), pull("b", "192.0.2.2", 5))
        process(runtime)
        write_spool(runtime, pull("c", "192.0.2.3", 7))
        process(runtime)
    finally:
        runtime.close()
    before = pulls_of(data_dir)
    assert len(before) == 3
    make_version_1(data_dir)
    [first] = (
        part
        for part in (data_dir / "lake" / "requests" / "day=2026-01-07").iterdir()
        if pq.read_table(part, columns=["id"])["id"].to_pylist() == ["a", "b"]
    )
    return before, first


def test_a_damaged_file_is_set_aside_and_the_migration_goes_on_with_the_rest(
    data_dir: Path,
) -> None:
    before, part = version_1_with_two_request_parts(data_dir)
    os.truncate(part, 1000)
    damaged = part.read_bytes()
    lake = data_dir / "lake"
    kept = lake / "set-aside" / "damaged-files" / part.relative_to(lake)

    done = run_cli(data_dir, "process")
    assert done.returncode == 0, done.stderr
    [warning] = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warning.startswith(f"warning: damaged lake file {part} (Parquet magic bytes not found")
    assert (
        f"moved to {kept}; its rows are no longer in the lake: 2026-01-07 is counted without "
        "them from its next classification" in warning
    )
    assert kept.read_bytes() == damaged
    assert json.loads((lake / "_meta.json").read_text())["schema_version"] == 2
    # the other request part and the actions file migrated, the actions counting as before
    migrated = lake_files(data_dir)
    assert len(migrated) == 2 and part not in migrated
    assert all("user_hash" in pq.read_schema(path).names for path in migrated)
    assert pulls_of(data_dir) == before
    status = run_cli(data_dir, "status")
    assert status.returncode == 0, status.stderr
    assert (
        f"damaged lake files set aside: 1 (requests/day=2026-01-07/{part.name}) in "
        f"{lake / 'set-aside' / 'damaged-files'}"
    ) in status.stdout.splitlines()

    # the day classified again is counted without a and b, as the warning says
    rebuilt = run_cli(
        data_dir, "process", "--rebuild", "--from", "2026-01-07", "--to", "2026-01-08"
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert pulls_of(data_dir) == [before[2]]  # c's pull alone


def test_a_damaged_actions_file_waits_for_process_and_a_run_again_moves_nothing_more(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before, part = version_1_with_two_request_parts(data_dir)
    actions = data_dir / "lake" / "actions" / "day=2026-01-07" / "actions.parquet"
    actions.write_bytes(b"not parquet at all\n")
    aside = data_dir / "lake" / "set-aside" / "damaged-files"

    with caplog.at_level(logging.WARNING, logger="pullstats.lake.damaged_files"):
        runtime = Runtime.open(catalog_settings(data_dir))
    runtime.close()
    [warning] = caplog.messages
    assert warning.startswith(f"warning: damaged lake file {actions} (")
    assert "the actions of 2026-01-07 are classified again from its requests" in warning
    assert (aside / "actions" / "day=2026-01-07" / "actions.parquet").read_bytes() == (
        b"not parquet at all\n"
    )
    # as a run stopped before it recorded the version would leave it: a file not migrated yet
    meta = data_dir / "lake" / "_meta.json"
    meta.write_text(json.dumps({"schema_version": 1}))
    pq.write_table(pq.read_table(part).drop_columns(["user_hash"]), part)
    caplog.clear()

    runtime = Runtime.open(catalog_settings(data_dir))
    try:
        assert caplog.messages == []
        assert [path.name for path in aside.rglob("*") if path.is_file()] == ["actions.parquet"]
        assert json.loads(meta.read_text())["schema_version"] == 2
        assert all("user_hash" in pq.read_schema(path).names for path in lake_files(data_dir))
        with runtime.sessions() as session:
            assert pending_days(session) == {date(2026, 1, 7)}
        process(runtime)  # the day classified again from its requests, all three migrated
        assert pulls_of(data_dir) == before
    finally:
        runtime.close()
