"""A lake of schema version 1 (before ``user_hash``) is migrated to version 2 when a command that
writes opens it, under the job lock, and counts exactly as before; a command that only reads
refuses it until then (lake_meta.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

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
    assert run_cli(data_dir, "status").returncode == 0
