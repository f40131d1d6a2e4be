"""A damaged request part of a lake in object storage (a local S3-protocol server) is set aside
in the bucket, bytes intact, and ``process`` carries on (tests/lake/test_damaged_files.py)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

import pyarrow.parquet as pq
import pytest

from pullstats.lake_files import action_key
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import write_spool
from tests.lake.test_refused import DAY, NOON, notified
from tests.storage.conftest import S3Server

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]


def test_a_damaged_part_in_the_bucket_is_set_aside_there(
    s3_env: S3Server, s3_installation: tuple[Runtime, str], caplog: pytest.LogCaptureFixture
) -> None:
    runtime, bucket = s3_installation
    client = s3_env.client()
    write_spool(runtime, notified("a", "192.0.2.1", NOON))
    process(runtime)
    [part] = [k for k in s3_env.keys(bucket) if k.startswith(f"lake/requests/day={DAY}/part-")]
    whole = client.get_object(Bucket=bucket, Key=part)["Body"].read()  # type: ignore[attr-defined]
    client.put_object(Bucket=bucket, Key=part, Body=whole[:1000])  # type: ignore[attr-defined]

    # a request of the next day: compaction looks for its id among the days around it
    write_spool(runtime, notified("b", "192.0.2.2", NOON + timedelta(days=1)))
    with caplog.at_level(logging.WARNING, logger="pullstats.lake.damaged_files"):
        result = process(runtime)
    assert result.compaction.written == 1

    keys = s3_env.keys(bucket)
    assert part not in keys
    kept = "lake/set-aside/damaged-files/" + part.removeprefix("lake/")
    assert kept in keys
    body = client.get_object(Bucket=bucket, Key=kept)["Body"].read()  # type: ignore[attr-defined]
    assert body == whole[:1000]
    [warning] = caplog.messages
    assert warning.startswith(f"warning: damaged lake file s3://{bucket}/{part} (")
    assert f"moved to s3://{bucket}/{kept}; its rows are no longer in the lake" in warning

    lake = runtime.settings.lake
    with lake.open(action_key(DAY + timedelta(days=1))) as handle:
        assert Counter(pq.read_table(handle)["action"].to_pylist()) == {"pull_by_tag": 1}
    with lake.open(action_key(DAY)) as handle:  # classified before, not again: still counted
        assert Counter(pq.read_table(handle)["action"].to_pylist()) == {"pull_by_tag": 1}
