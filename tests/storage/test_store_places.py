"""A store's place beside its id (store_identity.py): after the documented move of the lake and
the exports to object storage (docs/scaling.md: copy the folders, set the URLs, `db upgrade
--adopt`), the data dir's folders left behind still carry the ids; a job without the new
settings is refused on them, naming the setting and both places, and changes nothing. A restore
of the data dir onto another path is the same place; a move back to the folders is another
`--adopt`."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from pullstats.config import Settings
from pullstats.db.engine import make_engine
from pullstats.exports_identity import ExportsStoreRefused
from pullstats.lake_meta import LakeVersionError
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, catalog_url, run_cli, write_one_pull
from tests.exports.test_exports_identity import installation
from tests.storage.conftest import S3Server

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]

TABLES = ("rollup_periods", "pull_rollups", "export_periods", "export_files")


def catalog_rows(data_dir: Path) -> dict[str, list[str]]:
    """Every row of the rollups and the export catalog, as text."""
    engine = make_engine(catalog_settings(data_dir).database_url_value)
    try:
        with engine.connect() as connection:
            return {
                table: sorted(
                    repr(tuple(row)) for row in connection.execute(text(f"SELECT * FROM {table}"))
                )
                for table in TABLES
            }
    finally:
        engine.dispose()


def sync(s3: S3Server, folder: Path, bucket: str, prefix: str) -> None:
    """``aws s3 sync FOLDER s3://BUCKET/PREFIX``."""
    client = s3.client()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(folder).as_posix()}"
            client.upload_file(str(path), bucket, key)  # type: ignore[attr-defined]


def moved_to_s3(s3: S3Server, data_dir: Path) -> dict[str, str]:
    """The local installation's lake and exports copied to a new bucket: the URLs."""
    bucket = s3.bucket()
    sync(s3, data_dir / "lake", bucket, "lake")
    sync(s3, data_dir / "exports", bucket, "exports")
    return {
        "PULLSTATS_LAKE_URL": f"s3://{bucket}/lake",
        "PULLSTATS_EXPORTS_URL": f"s3://{bucket}/exports",
    }


@pytest.mark.e2e  # runs the pullstats command
def test_a_job_without_the_new_settings_is_refused_on_the_folders_left_behind(
    s3_env: S3Server, data_dir: Path
) -> None:
    installation(data_dir)
    urls = moved_to_s3(s3_env, data_dir)
    adopted = run_cli(data_dir, "db", "upgrade", "--adopt", env=urls)
    assert adopted.returncode == 0, adopted.stderr
    # a pull counted on the bucket only, so that the folder left behind is behind it
    runtime = Runtime.open(
        catalog_settings(
            data_dir,
            lake_url=urls["PULLSTATS_LAKE_URL"],
            exports_url=urls["PULLSTATS_EXPORTS_URL"],
        )
    )
    write_one_pull(runtime, datetime(2026, 1, 7, 10, tzinfo=UTC))
    runtime.close()
    processed = run_cli(data_dir, "process", env=urls)
    assert processed.returncode == 0, processed.stderr
    exported = run_cli(data_dir, "export", "--rebuild", "--through", "2026-01-13", env=urls)
    assert exported.returncode == 0, exported.stderr
    before = catalog_rows(data_dir)
    rebuild = ("process", "--rebuild", "--from", "2026-01-05", "--to", "2026-01-11")
    result = run_cli(data_dir, *rebuild)  # a cron job without the URLs
    assert result.returncode == 1, result.stdout
    [line] = result.stderr.strip().splitlines()
    lake = data_dir.resolve() / "lake"
    assert line == (
        f"error: {lake}/_meta.json: the installation's lake is {urls['PULLSTATS_LAKE_URL']} "
        f"(the catalog records it there), and this command's is the data dir's folder {lake}: "
        "is PULLSTATS_LAKE_URL missing? Nothing was changed. If the lake was moved here on "
        "purpose, `pullstats db upgrade --adopt` records its new place"
    )
    assert catalog_rows(data_dir) == before
    # the exports store likewise, the lake's URL set
    lake_only = {"PULLSTATS_LAKE_URL": urls["PULLSTATS_LAKE_URL"]}
    result = run_cli(data_dir, "export", "--rebuild", "--through", "2026-01-13", env=lake_only)
    assert result.returncode == 1, result.stdout
    [line] = result.stderr.strip().splitlines()
    assert f"the installation's exports store is {urls['PULLSTATS_EXPORTS_URL']} " in line
    assert "is PULLSTATS_EXPORTS_URL missing?" in line
    assert catalog_rows(data_dir) == before
    # and a command that only reads: a server on the copy would serve the wrong files
    result = run_cli(data_dir, "status")
    assert result.returncode == 1 and "is PULLSTATS_LAKE_URL missing?" in result.stderr
    # with the URLs, as before
    result = run_cli(data_dir, *rebuild, env=urls)
    assert result.returncode == 0, result.stderr


def test_a_restore_onto_another_path_opens_and_a_move_back_is_adopted(
    s3_env: S3Server, data_dir: Path, tmp_path: Path
) -> None:
    installation(data_dir)
    restored = tmp_path / "restored" / "data"
    shutil.copytree(data_dir, restored)
    (restored / "node-name").unlink()  # restored without it: a node of its own (operations.md)
    database_url = catalog_url(data_dir)  # the same catalog (PostgreSQL), or the copied file
    for create in (False, True):
        Runtime.open(Settings(data_dir=restored, database_url=database_url), create=create).close()
    urls = moved_to_s3(s3_env, restored)
    on_s3 = Settings(
        data_dir=restored,
        database_url=database_url,
        lake_url=urls["PULLSTATS_LAKE_URL"],
        exports_url=urls["PULLSTATS_EXPORTS_URL"],
    )
    with pytest.raises(LakeVersionError) as refused:
        Runtime.open(on_s3)  # not moved by a setting alone
    assert str(refused.value) == (
        f"PULLSTATS_LAKE_URL={urls['PULLSTATS_LAKE_URL']}: {urls['PULLSTATS_LAKE_URL']}/"
        "_meta.json: the installation's lake is the data dir's folder (the catalog records it "
        f"there), and this command's is {urls['PULLSTATS_LAKE_URL']}: should PULLSTATS_LAKE_URL "
        "be unset? Nothing was changed. If the lake was moved here on purpose, `pullstats db "
        "upgrade --adopt` records its new place"
    )
    Runtime.open(on_s3, adopt=True).close()
    runtime = Runtime.open(on_s3)
    write_one_pull(runtime, datetime(2026, 1, 7, 10, tzinfo=UTC))
    process(runtime)
    runtime.close()
    local = Settings(data_dir=restored, database_url=database_url)
    with pytest.raises(LakeVersionError, match="is PULLSTATS_LAKE_URL missing\\?"):
        Runtime.open(local, create=False)
    # moved back: the bucket's files into the folders (here: the folders as they were)
    Runtime.open(local, adopt=True).close()
    Runtime.open(local).close()
    with pytest.raises(LakeVersionError, match="should PULLSTATS_LAKE_URL be unset\\?"):
        Runtime.open(on_s3, create=False)
    only_exports = Settings(
        data_dir=restored, database_url=database_url, exports_url=urls["PULLSTATS_EXPORTS_URL"]
    )
    with pytest.raises(ExportsStoreRefused, match="should PULLSTATS_EXPORTS_URL be unset\\?"):
        Runtime.open(only_exports, create=False)
