"""The catalog's exports store and no other: another installation's store, an empty place or a
node's own folder of exports is refused (one line naming PULLSTATS_EXPORTS_URL) before anything
is listed, written or deleted there; a store from before ids is given the catalog's id."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete

from pullstats.accounts import service
from pullstats.db.models import PipelineState
from pullstats.db.state import get_value
from pullstats.exports.closing import export_closed
from pullstats.exports_identity import CATALOG_KEY, ExportsStoreRefused
from pullstats.periods import Period
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, run_cli, start_server, write_one_pull

WEEK = Period.week(2026, 2)  # Monday 2026-01-05 .. Sunday 2026-01-11


def installation(data_dir: Path, **values: str) -> None:
    """A data dir with one exported week of ``acme``'s (its exports where ``values`` say)."""
    runtime = Runtime.open(catalog_settings(data_dir, **values))
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
    write_one_pull(runtime, datetime(2026, 1, 6, 10, tzinfo=UTC))
    process(runtime)
    assert (
        export_closed(runtime, now=end_of_day(WEEK.end + timedelta(days=1))).files == 7
    )  # 4 views, 3 reports
    runtime.close()


def exports_id(folder: Path) -> str:
    found = json.loads((folder / "_exports.json").read_text())["exports_id"]
    assert isinstance(found, str) and len(found) == 32
    return found


def catalog_id(data_dir: Path) -> str | None:
    runtime = Runtime.open(catalog_settings(data_dir), create=False)
    try:
        with runtime.sessions() as session:
            return get_value(session, CATALOG_KEY)
    finally:
        runtime.close()


def forget_ids(data_dir: Path) -> None:
    """Make the installation look like one of a release before exports ids."""
    runtime = Runtime.open(catalog_settings(data_dir), create=False)
    with runtime.sessions.begin() as session:
        session.execute(delete(PipelineState).where(PipelineState.key == CATALOG_KEY))
    runtime.close()
    (data_dir / "exports" / "_exports.json").unlink()


def contents(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.e2e  # runs the pullstats command
def test_another_installations_exports_store_is_refused_and_left_as_it_was(
    data_dir: Path, tmp_path: Path
) -> None:
    installation(data_dir)
    other = tmp_path / "other"
    installation(other)
    before = contents(other / "exports")
    # the same namespace and week: an export would swap its own folder in and delete theirs
    result = run_cli(
        data_dir,
        "export",
        "--rebuild",
        "--through",
        "2026-01-13",
        env={"PULLSTATS_EXPORTS_URL": str(other / "exports")},
    )
    assert contents(other / "exports") == before  # nothing written, nothing deleted
    assert result.returncode == 1, result.stdout
    [line] = result.stderr.strip().splitlines()
    theirs = exports_id(other / "exports")
    assert line == (
        f"error: PULLSTATS_EXPORTS_URL={other / 'exports'}: {other / 'exports' / '_exports.json'}: "
        f"not the installation's exports store: the catalog's exports store is "
        f'{exports_id(data_dir / "exports")}, and its "exports_id" is {theirs}. Point '
        "PULLSTATS_EXPORTS_URL at the installation's exports store (its _exports.json holds "
        f'"exports_id": "{exports_id(data_dir / "exports")}"); every node shares one exports store'
    )
    assert run_cli(other, "export", "--rebuild", "--through", "2026-01-13").returncode == 0


def test_a_new_place_is_not_the_installations_exports_store(data_dir: Path, tmp_path: Path) -> None:
    installation(data_dir)
    typo = tmp_path / "exports-typo"
    for create in (True, False):
        with pytest.raises(ExportsStoreRefused) as refused:
            Runtime.open(catalog_settings(data_dir, exports_url=str(typo)), create=create)
        known = exports_id(data_dir / "exports")
        assert catalog_id(data_dir) == known
        assert str(refused.value) == (
            f"PULLSTATS_EXPORTS_URL={typo}: {typo}/_exports.json: not the installation's exports "
            f"store: the catalog's exports store is {known}, and there are no exports there (a "
            "new, empty place). Point PULLSTATS_EXPORTS_URL at the installation's exports store "
            f'(its _exports.json holds "exports_id": "{known}"); every node shares one exports '
            "store"
        )
    assert not typo.exists()  # nothing was written there
    Runtime.open(catalog_settings(data_dir)).close()  # the right store is still the store


def test_a_store_from_before_ids_is_given_the_catalogs_id(data_dir: Path) -> None:
    installation(data_dir)
    forget_ids(data_dir)
    files = contents(data_dir / "exports")
    Runtime.open(catalog_settings(data_dir), create=False).close()  # reading adds nothing
    assert not (data_dir / "exports" / "_exports.json").exists()
    assert catalog_id(data_dir) is None
    Runtime.open(catalog_settings(data_dir)).close()
    given = exports_id(data_dir / "exports")
    assert catalog_id(data_dir) == given
    assert contents(data_dir / "exports") == {
        **files,
        "_exports.json": (data_dir / "exports" / "_exports.json").read_bytes(),
    }
    Runtime.open(catalog_settings(data_dir)).close()  # and it is the store from now on
    assert exports_id(data_dir / "exports") == given


def test_a_catalog_before_ids_with_exports_refuses_an_empty_place(
    data_dir: Path, tmp_path: Path
) -> None:
    installation(data_dir)
    forget_ids(data_dir)
    elsewhere = tmp_path / "elsewhere"
    with pytest.raises(ExportsStoreRefused) as refused:
        Runtime.open(catalog_settings(data_dir, exports_url=str(elsewhere)))
    assert str(refused.value) == (
        f"PULLSTATS_EXPORTS_URL={elsewhere}: {elsewhere}/_exports.json: there are no exports "
        "there (a new, empty place), but the catalog lists export files written to one: point "
        "PULLSTATS_EXPORTS_URL at the installation's exports store"
    )
    assert catalog_id(data_dir) is None and not elsewhere.exists()
    Runtime.open(catalog_settings(data_dir)).close()  # its own store: given the id
    assert catalog_id(data_dir) == exports_id(data_dir / "exports")


def test_a_folder_of_exports_from_before_ids_is_refused_once_the_catalog_has_one(
    data_dir: Path, tmp_path: Path
) -> None:
    # a node that wrote exports to a folder of its own before ids: the catalog has its id
    # from the shared store now, and the node's folder is not that store
    installation(data_dir)
    own = tmp_path / "node-b-exports"
    shutil.copytree(data_dir / "exports", own)
    (own / "_exports.json").unlink(missing_ok=True)
    with pytest.raises(ExportsStoreRefused) as refused:
        Runtime.open(catalog_settings(data_dir, exports_url=str(own)))
    assert "and it holds exports but no _exports.json: a store from before ids, another" in str(
        refused.value
    )
    assert not (own / "_exports.json").exists()


@pytest.mark.parametrize(
    "text", ["{not json", "[1]", '{"exports_id": 7}', "\xff"], ids=["json", "list", "int", "utf8"]
)
def test_a_description_that_is_not_one_is_refused(data_dir: Path, text: str) -> None:
    installation(data_dir)
    description = data_dir / "exports" / "_exports.json"
    description.write_text(text, encoding="latin-1")
    with pytest.raises(ExportsStoreRefused) as refused:
        Runtime.open(catalog_settings(data_dir))
    assert str(refused.value) == (
        f'{description}: not a pullstats exports description (expected {{"exports_id": "…", '
        "...}): restore it from a backup"
    )
    assert description.read_text(encoding="latin-1") == text  # left as it was


@pytest.mark.e2e  # starts a server
def test_the_server_refuses_to_start_on_another_exports_store(
    data_dir: Path, tmp_path: Path
) -> None:
    installation(data_dir)
    other = tmp_path / "other"
    installation(other)
    log = tmp_path / "server.log"
    env = {"PULLSTATS_EXPORTS_URL": str(other / "exports")}
    try:
        server = start_server(data_dir, log, env)
    except RuntimeError:
        pass
    else:
        server.stop()
        pytest.fail("the server started on another installation's exports store")
    [line] = log.read_text().strip().splitlines()
    assert line.startswith(f"error: PULLSTATS_EXPORTS_URL={other / 'exports'}: ")
    assert f'its "exports_id" is {exports_id(other / "exports")}' in line


def test_a_new_installation_gives_its_exports_store_an_id_on_the_first_open(
    data_dir: Path,
) -> None:
    Runtime.open(catalog_settings(data_dir)).close()
    meta = json.loads((data_dir / "exports" / "_exports.json").read_text())
    assert meta["exports_id"] == catalog_id(data_dir)
    assert str(meta["written_by"]).startswith("pullstats ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(meta["created_at"]))
