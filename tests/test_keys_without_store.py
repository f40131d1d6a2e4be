"""``pullstats keys rotate`` needs the catalog and the keys dir only: with the object store down
(a key leak during an outage) it rotates, as docs/operations.md says (`db upgrade` and `keys`
do not check the buckets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, free_port, run_cli
from tests.storage.conftest import aws_env


@pytest.mark.e2e  # runs the pullstats command
def test_keys_rotate_while_the_object_store_cannot_be_reached(data_dir: Path) -> None:
    Runtime.open(catalog_settings(data_dir)).close()
    down = {
        **aws_env(f"http://127.0.0.1:{free_port()}"),  # nothing listens there
        "PULLSTATS_LAKE_URL": "s3://pullstats/lake",
        "PULLSTATS_EXPORTS_URL": "s3://pullstats/exports",
    }
    assert run_cli(data_dir, "status", env=down).returncode == 1  # the store is down
    for _ in range(2):  # the ring's first key, then a rotation
        result = run_cli(data_dir, "keys", "rotate", "--only", "download", env=down)
        assert result.returncode == 0, result.stderr
        assert "download: key " in result.stdout
    assert "download" in run_cli(data_dir, "keys", "list", env=down).stdout
