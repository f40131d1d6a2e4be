"""``pullstats ingest registry-log`` on a lake in object storage (a local S3-protocol server):
the registry ids, the rewritten request part and the set-aside requests are objects of the
bucket, and the recount is the same as on local disk (tests/lake/test_refused.py)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pullstats.importers.registry_log import import_registry_log
from pullstats.lake_files import action_key
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import write_spool
from tests.lake.test_refused import DAY, NOON, entry, notified
from tests.storage.conftest import S3Server

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]


def test_refused_requests_are_set_aside_in_the_bucket(
    s3_env: S3Server, s3_installation: tuple[Runtime, str], tmp_path: Path
) -> None:
    runtime, bucket = s3_installation
    write_spool(
        runtime,
        notified("r-served", "192.0.2.1", NOON),
        notified("r-refused", "192.0.2.2", NOON),
    )
    process(runtime)
    keys = s3_env.keys(bucket)
    assert any(key.startswith(f"lake/registry-ids/day={DAY}/part-") for key in keys)

    log = tmp_path / "registry.log"
    log.write_text(
        entry("r-served", NOON, 200) + entry("r-refused", NOON + timedelta(seconds=1), 404)
    )
    assert import_registry_log(runtime, [str(log)]).set_aside == Counter({404: 1})
    process(runtime)

    lake = runtime.settings.lake
    with lake.open(action_key(DAY)) as handle:
        assert pq.read_table(handle)["action"].to_pylist() == ["pull_by_tag"]
    keys = s3_env.keys(bucket)
    (aside,) = [k for k in keys if k.startswith("lake/set-aside/refused/requests/part-")]
    with lake.open(aside.removeprefix("lake/")) as handle:
        assert pq.read_table(handle)["id"].to_pylist() == ["event-r-refused"]
    assert [p for p in (tmp_path / "data" / "lake").rglob("*") if p.is_file()] == []
