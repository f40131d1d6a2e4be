"""The exports store's id on object storage (tests/exports/test_exports_identity.py on a local
S3-protocol server): a second installation pointed at the first's bucket is refused and writes
nothing there; a store from before ids is given the catalog's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete

from pullstats.db.models import PipelineState
from pullstats.db.state import get_value
from pullstats.exports_identity import CATALOG_KEY
from pullstats.runtime import Runtime
from pullstats.s3_store import S3Store
from tests.conftest import catalog_settings, run_cli
from tests.exports.test_exports_identity import installation
from tests.storage.conftest import S3Server

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]


def description(url: str) -> dict[str, str]:
    found: dict[str, str] = json.loads(
        S3Store(url, "PULLSTATS_EXPORTS_URL").read_bytes("_exports.json")
    )
    return found


def test_another_installation_is_refused_on_the_bucket_and_writes_nothing(
    s3_env: S3Server, tmp_path: Path
) -> None:
    bucket = s3_env.bucket()
    url = f"s3://{bucket}/exports"
    installation(tmp_path / "first", exports_url=url)
    keys = s3_env.keys(bucket)
    assert sum(key.startswith("exports/acme/2026-W02/") for key in keys) == 7
    installation(tmp_path / "second")  # exports in its data dir; the same namespace and week
    result = run_cli(
        tmp_path / "second",
        "export",
        "--rebuild",
        "--through",
        "2026-01-13",
        env={"PULLSTATS_EXPORTS_URL": url},
    )
    assert s3_env.keys(bucket) == keys  # no part written, none deleted
    assert "exports/_exports.json" in keys
    assert result.returncode == 1, result.stdout
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        f"error: PULLSTATS_EXPORTS_URL={url}: {url}/_exports.json: not the installation's "
        "exports store: the catalog's exports store is "
    )
    assert f'and its "exports_id" is {description(url)[CATALOG_KEY]}.' in line


def test_a_bucket_from_before_ids_is_given_the_catalogs_id(
    s3_env: S3Server, tmp_path: Path
) -> None:
    bucket = s3_env.bucket()
    url = f"s3://{bucket}/exports"
    data_dir = tmp_path / "data"
    installation(data_dir, exports_url=url)
    runtime = Runtime.open(catalog_settings(data_dir, exports_url=url))
    with runtime.sessions.begin() as session:  # as an installation of an earlier release
        session.execute(delete(PipelineState).where(PipelineState.key == CATALOG_KEY))
    runtime.settings.exports_store.delete(["_exports.json"])
    runtime.close()
    parts = s3_env.keys(bucket)
    Runtime.open(catalog_settings(data_dir, exports_url=url), create=False).close()
    assert s3_env.keys(bucket) == parts  # reading adds nothing
    runtime = Runtime.open(catalog_settings(data_dir, exports_url=url))
    with runtime.sessions() as session:
        recorded = get_value(session, CATALOG_KEY)
    runtime.close()
    assert recorded is not None and description(url)[CATALOG_KEY] == recorded
    assert s3_env.keys(bucket) == sorted([*parts, "exports/_exports.json"])
