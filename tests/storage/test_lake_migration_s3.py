"""A lake of schema version 1 in object storage (a local S3-protocol server) is migrated in
the bucket as on local disk (tests/lake/test_lake_migration.py): every request and action
object gains ``user_hash``, and the version is recorded last."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, write_spool
from tests.lake.test_lake_migration import pull

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]


def test_a_version_1_lake_in_a_bucket_is_migrated(
    s3_installation: tuple[Runtime, str], tmp_path: Path
) -> None:
    runtime, _ = s3_installation
    write_spool(runtime, pull("a", "192.0.2.1", 0), pull("b", "192.0.2.2", 5, user="ci"))
    process(runtime)
    lake = runtime.settings.lake
    tables = lake.files("requests", ".parquet") + lake.files("actions", ".parquet")
    assert len(tables) == 2
    for key in tables:  # as the release before user_hash wrote them
        old = pq.read_table(io.BytesIO(lake.read_bytes(key))).drop_columns(["user_hash"])
        staged = tmp_path / "old.parquet"
        pq.write_table(old, staged)
        lake.publish(staged, key)
    lake.write_bytes("_meta.json", b'{"schema_version": 1}', tmp_path)
    runtime.close()

    migrated = Runtime.open(catalog_settings(tmp_path / "data"))
    try:
        assert json.loads(lake.read_bytes("_meta.json"))["schema_version"] == 2
        for key in tables:
            table = pq.read_table(io.BytesIO(lake.read_bytes(key)))
            assert table.column_names.index("user_hash") == table.column_names.index("ip_hash") + 1
            assert table["user_hash"].null_count == table.num_rows
        assert [p for p in (tmp_path / "data" / "lake").rglob("*") if p.is_file()] == []
    finally:
        migrated.close()
