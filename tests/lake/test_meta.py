"""``lake/_meta.json``: a data dir says which lake version it holds, a newer one is refused and
an older one migrated when a command that writes opens it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete

from pullstats.db.models import PipelineState
from pullstats.lake_identity import CATALOG_KEY
from pullstats.lake_meta import LAKE_SCHEMA_VERSION, LakeVersionError
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, run_cli


def meta_of(data_dir: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((data_dir / "lake" / "_meta.json").read_text())
    return loaded


def test_a_new_data_dir_records_its_lake_version(data_dir: Path) -> None:
    Runtime.open(catalog_settings(data_dir)).close()
    meta = meta_of(data_dir)
    assert meta["schema_version"] == LAKE_SCHEMA_VERSION == 2
    assert str(meta["written_by"]).startswith("pullstats ")


def test_a_lake_from_before_the_file_gets_it_when_opened_for_writing(data_dir: Path) -> None:
    runtime = Runtime.open(catalog_settings(data_dir))
    with runtime.sessions.begin() as session:  # as every installation before lake ids
        session.execute(delete(PipelineState).where(PipelineState.key == CATALOG_KEY))
    runtime.close()
    (data_dir / "lake" / "_meta.json").unlink()  # as every data dir before this release
    Runtime.open(catalog_settings(data_dir), create=False).close()  # reading adds nothing
    assert not (data_dir / "lake" / "_meta.json").exists()
    Runtime.open(catalog_settings(data_dir)).close()
    assert meta_of(data_dir)["schema_version"] == 2  # it holds no table yet: of this release
    assert len(meta_of(data_dir)["lake_id"]) == 32  # and it is the installation's lake now


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"schema_version": 3}', "the lake has schema version 3, written by a newer pullstats"),
        ('{"schema_version": 0}', "lake schema version 0 has no migration to 2"),
        ("{not json", "not a pullstats lake description"),
        ('{"schema_version": "1"}', "not a pullstats lake description"),
        ('{"schema_version": true}', "not a pullstats lake description"),
        ("[1]", "not a pullstats lake description"),
    ],
)
def test_a_lake_this_release_cannot_read_is_refused(
    data_dir: Path, text: str, expected: str
) -> None:
    Runtime.open(catalog_settings(data_dir)).close()
    (data_dir / "lake" / "_meta.json").write_text(text)
    for create in (True, False):
        with pytest.raises(LakeVersionError, match=expected):
            Runtime.open(catalog_settings(data_dir), create=create)
    assert (data_dir / "lake" / "_meta.json").read_text() == text  # left as it was


def test_commands_refuse_a_newer_lake_in_one_line(data_dir: Path) -> None:
    Runtime.open(catalog_settings(data_dir)).close()
    (data_dir / "lake" / "_meta.json").write_text('{"schema_version": 7}')
    for command in (["process"], ["status"]):
        result = run_cli(data_dir, *command)
        assert result.returncode == 1, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "_meta.json: the lake has schema version 7" in lines[0]
        assert "reads version 2" in lines[0]
