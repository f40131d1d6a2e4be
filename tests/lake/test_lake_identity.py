"""The catalog's lake and no other: a mistyped PULLSTATS_LAKE_URL, or a node whose lake is a
folder of its own, is refused before anything is read or written there."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, event

from pullstats.config import Settings
from pullstats.db.models import PipelineState
from pullstats.db.state import get_value
from pullstats.lake_identity import CATALOG_KEY
from pullstats.lake_meta import LakeVersionError
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, catalog_url, only_on_sqlite, run_cli, write_one_pull


def installation(data_dir: Path) -> str:
    """A data dir with one processed pull; its lake's id."""
    runtime = Runtime.open(catalog_settings(data_dir))
    write_one_pull(runtime, datetime(2026, 11, 2, 10, tzinfo=UTC))
    process(runtime)
    runtime.close()
    lake_id = json.loads((data_dir / "lake" / "_meta.json").read_text())["lake_id"]
    assert isinstance(lake_id, str) and len(lake_id) == 32
    return str(lake_id)


def test_a_new_place_is_not_the_installations_lake(data_dir: Path, tmp_path: Path) -> None:
    lake_id = installation(data_dir)
    typo = tmp_path / "lake-typo"
    for create in (True, False):
        with pytest.raises(LakeVersionError) as refused:
            Runtime.open(catalog_settings(data_dir, lake_url=str(typo)), create=create)
        assert str(refused.value) == (
            f"PULLSTATS_LAKE_URL={typo}: {typo}/_meta.json: not the installation's lake: the "
            f"catalog's lake is {lake_id}, and there is no lake there (a new, empty place). "
            "Point PULLSTATS_LAKE_URL at the installation's lake (its _meta.json holds "
            f'"lake_id": "{lake_id}"); every node shares one lake'
        )
    assert not typo.exists()  # nothing was written there
    Runtime.open(catalog_settings(data_dir)).close()  # the right lake is still the lake


@pytest.mark.e2e  # runs the pullstats command
def test_another_installations_lake_is_refused_in_one_line(data_dir: Path, tmp_path: Path) -> None:
    installation(data_dir)
    other = installation(tmp_path / "other")
    result = run_cli(
        data_dir, "process", env={"PULLSTATS_LAKE_URL": str(tmp_path / "other" / "lake")}
    )
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert f'its "lake_id" is {other}' in line and line.startswith("error: PULLSTATS_LAKE_URL=")


def test_a_catalog_before_lake_ids_with_processed_periods_refuses_an_empty_place(
    data_dir: Path, tmp_path: Path
) -> None:
    installation(data_dir)
    runtime = Runtime.open(catalog_settings(data_dir))
    with runtime.sessions.begin() as session:  # as an installation of an earlier release
        session.execute(delete(PipelineState).where(PipelineState.key == CATALOG_KEY))
    runtime.close()
    with pytest.raises(LakeVersionError, match="the catalog holds periods processed from one"):
        Runtime.open(catalog_settings(data_dir, lake_url=str(tmp_path / "elsewhere")))
    # its own lake, which has an id since: taken only when told (db upgrade --adopt)
    with pytest.raises(LakeVersionError, match="the lake of another catalog"):
        Runtime.open(catalog_settings(data_dir))
    Runtime.open(catalog_settings(data_dir), adopt=True).close()  # adopted, id kept
    runtime = Runtime.open(catalog_settings(data_dir))
    with runtime.sessions() as session:
        recorded = get_value(session, CATALOG_KEY)
    runtime.close()
    meta = json.loads((data_dir / "lake" / "_meta.json").read_text())
    assert recorded == meta["lake_id"]


class _Watch:
    """What a start-up reads: the opens of the lake's description (Python's audit events) and
    the catalog's queries of processed periods (SQLAlchemy's events)."""

    def __init__(self) -> None:
        self.on = False
        self.meta_opens = 0
        self.period_queries = 0
        sys.addaudithook(self._audit)  # audit hooks stay for the process: `on` switches it

    def _audit(self, event: str, args: tuple[object, ...]) -> None:
        if self.on and event == "open" and str(args[0]).endswith("_meta.json"):
            self.meta_opens += 1

    def _query(self, conn: object, cursor: object, statement: str, *args: object) -> None:
        if self.on and "rollup_periods" in statement:
            self.period_queries += 1

    def __enter__(self) -> _Watch:
        event.listen(Engine, "before_cursor_execute", self._query)
        self.on = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.on = False
        event.remove(Engine, "before_cursor_execute", self._query)


@pytest.mark.parametrize("create", [True, False])
def test_a_start_up_reads_the_lake_description_once(data_dir: Path, create: bool) -> None:
    # on S3 each read is a request, and every command opens the installation
    installation(data_dir)
    with _Watch() as watch:
        Runtime.open(catalog_settings(data_dir), create=create).close()
    assert (watch.meta_opens, watch.period_queries) == (1, 0)


def _other_catalog(tmp_path: Path) -> str:
    """A catalog that is not the data dir's (a new database when the suite runs on one)."""
    return catalog_url(tmp_path / "elsewhere") or f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"


def test_a_command_without_the_installations_catalog_url_is_refused_and_makes_nothing(
    data_dir: Path, tmp_path: Path
) -> None:
    # the installation's catalog is elsewhere (PostgreSQL); a cron job without
    # PULLSTATS_DATABASE_URL would make a new SQLite catalog in the data dir, count the spool
    # into it, and leave the installation's catalog to see those requests as duplicates
    url = _other_catalog(tmp_path)
    runtime = Runtime.open(Settings(data_dir=data_dir, database_url=url))
    write_one_pull(runtime, datetime(2026, 11, 2, 10, tzinfo=UTC))
    process(runtime)
    runtime.close()
    lake_id = json.loads((data_dir / "lake" / "_meta.json").read_text())["lake_id"]
    with pytest.raises(LakeVersionError) as refused:
        Runtime.open(Settings(data_dir=data_dir))
    assert str(refused.value) == (
        f'{data_dir}/lake/_meta.json: the lake of another catalog (its "lake_id" is {lake_id}), '
        f"and the SQLite catalog {data_dir}/catalog.sqlite3 (PULLSTATS_DATABASE_URL is not set) "
        "records none: is PULLSTATS_DATABASE_URL missing or wrong? Nothing was changed. To move "
        "the installation's catalog here, `pullstats db copy --to` this database from it; if it "
        "is lost, `pullstats db upgrade --adopt` makes this one the installation's"
    )
    assert not (data_dir / "catalog.sqlite3").exists()
    Runtime.open(Settings(data_dir=data_dir, database_url=url)).close()  # still its lake


def test_a_catalog_moved_to_another_database_takes_the_stores_only_when_told(
    data_dir: Path, tmp_path: Path
) -> None:
    only_on_sqlite("the embedded installation's catalog.sqlite3, moved to a database")
    runtime = Runtime.open(Settings(data_dir=data_dir))  # the embedded installation
    write_one_pull(runtime, datetime(2026, 11, 2, 10, tzinfo=UTC))
    process(runtime)
    runtime.close()
    moved = Settings(data_dir=data_dir, database_url=_other_catalog(tmp_path))
    with pytest.raises(LakeVersionError) as refused:
        Runtime.open(moved)  # a new catalog would show an empty installation, and say nothing
    assert "(the data dir's catalog.sqlite3 is another catalog) records none" in str(refused.value)
    runtime = Runtime.open(moved, adopt=True)
    result = process(runtime, rebuild_from=date(2026, 11, 2), rebuild_to=date(2026, 11, 2))
    with runtime.sessions() as session:
        assert (
            get_value(session, CATALOG_KEY)
            == json.loads((data_dir / "lake" / "_meta.json").read_text())["lake_id"]
        )
    runtime.close()
    assert (result.days, result.actions) == ([date(2026, 11, 2)], 1)  # the lake's pull, counted
    Runtime.open(moved).close()  # from now on its own


@pytest.mark.e2e  # runs the pullstats command
def test_db_upgrade_adopt_says_which_days_to_rebuild(data_dir: Path, tmp_path: Path) -> None:
    url = _other_catalog(tmp_path)
    runtime = Runtime.open(Settings(data_dir=data_dir, database_url=url))
    write_one_pull(runtime, datetime(2026, 11, 2, 10, tzinfo=UTC))
    process(runtime)
    runtime.close()
    new = catalog_url(tmp_path / "new") or f"sqlite:///{tmp_path / 'new.sqlite3'}"
    refused = run_cli(data_dir, "process", env={"PULLSTATS_DATABASE_URL": new})
    assert refused.returncode == 1 and "`pullstats db upgrade --adopt` makes" in refused.stderr
    adopted = run_cli(data_dir, "db", "upgrade", "--adopt", env={"PULLSTATS_DATABASE_URL": new})
    assert adopted.returncode == 0, adopted.stderr
    said = " ".join(adopted.stdout.splitlines()[1:])  # after the schema's line
    assert " ".join(said.split()) == (
        "this catalog is the installation's: the lake and the exports store are its own the "
        "lake holds requests of 2026-11-02 … 2026-11-02: count them into this catalog with "
        "`pullstats process --rebuild --from 2026-11-02 --to 2026-11-02`, then `pullstats "
        "export --rebuild`"
    )
    assert run_cli(data_dir, "process", env={"PULLSTATS_DATABASE_URL": new}).returncode == 0
