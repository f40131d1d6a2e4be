"""The catalog's lake and no other: a mistyped PULLSTATS_LAKE_URL, or a node whose lake is a
folder of its own, is refused before anything is read or written there."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, event

from pullstats.db.models import PipelineState
from pullstats.db.state import get_value
from pullstats.lake_identity import CATALOG_KEY
from pullstats.lake_meta import LakeVersionError
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, run_cli, write_one_pull


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
    Runtime.open(catalog_settings(data_dir)).close()  # its own lake: adopted, id kept
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
