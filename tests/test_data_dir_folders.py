"""The folders a data dir is given: the spool, tmp and keys always; the lake's and the exports'
only while those stores are kept in it, so that a data dir whose stores are on S3 (or in a
folder elsewhere) shows no empty local lake that suggests one is in use."""

from __future__ import annotations

from pathlib import Path

import pytest

from pullstats.config import Settings

ALWAYS = ["keys", "spool", "tmp"]


@pytest.mark.parametrize(
    ("lake_url", "exports_url", "made"),
    [
        (None, None, ["exports", "lake/actions", "lake/requests"]),
        ("s3://pullstats-data/lake", "s3://pullstats-data/exports", []),
        ("s3://pullstats-data/lake", None, ["exports"]),
        (None, "s3://pullstats-data/exports", ["lake/actions", "lake/requests"]),
        ("elsewhere/lake", "elsewhere/exports", []),
    ],
    ids=["local", "both-on-s3", "lake-on-s3", "exports-on-s3", "folders-elsewhere"],
)
def test_the_data_dir_gets_the_folders_of_the_stores_kept_in_it(
    lake_url: str | None,
    exports_url: str | None,
    made: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, lake_url=lake_url, exports_url=exports_url)
    settings.paths.ensure()
    folders = sorted(
        path.relative_to(data_dir).as_posix() for path in data_dir.rglob("*") if path.is_dir()
    )
    parents = ["lake"] if any(name.startswith("lake/") for name in made) else []
    assert folders == sorted([*ALWAYS, *made, *parents])
    assert not (tmp_path / "elsewhere").exists()  # a store's own folder is made as it is written
