"""The stores' places (store_identity.py) with several nodes on one catalog: the catalog keeps
one place per store for the whole installation, and the nodes reach one shared mount at paths
of their own (docs/operations.md: "object storage or a shared mount"). Every folder is one
place; object storage for a folder is still refused, and so is a node that lost the race to
record the place from another one."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from pullstats import store_identity
from pullstats.config import Settings
from pullstats.db.state import get_value, set_value
from pullstats.exports_identity import EXPORTS, ExportsDescription
from pullstats.lake_identity import LAKE
from pullstats.lake_meta import Description, LakeVersionError
from pullstats.runtime import Runtime
from pullstats.store_identity import Place, installation_store

BUCKET = Place.s3("pullstats", "lake")


@pytest.fixture
def bind(tmp_path: Path) -> Iterator[Callable[[Path, Path], None]]:
    """``bind(folder, at)``: ``folder`` mounted at ``at`` too (``mount --bind``), as a
    shared mount is at a path of each node's own: a symlink would not do, as a place is
    recorded resolved. Unmounted after the test; skipped where mounting is not allowed."""
    if os.geteuid() != 0:
        pytest.skip("mount --bind needs root")
    mounted: list[Path] = []

    def mount(folder: Path, at: Path) -> None:
        at.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "--bind", str(folder), str(at)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            pytest.skip(f"mount --bind is not allowed here: {done.stderr.strip()}")
        mounted.append(at)

    try:
        yield mount
    finally:
        for at in reversed(mounted):
            if subprocess.run(["umount", str(at)], check=False).returncode != 0:
                subprocess.run(["umount", "--lazy", str(at)], check=False)


def shared_mount(tmp_path: Path, bind: Callable[[Path, Path], None]) -> tuple[Path, Path]:
    """One shared folder (its ``lake`` and ``exports``) and the same folder mounted at
    another path, as another node reaches it."""
    shared = tmp_path / "nfs-export"
    for folder in ("lake", "exports"):
        (shared / folder).mkdir(parents=True)
    elsewhere = tmp_path / "mnt-b" / "pullstats"
    bind(shared, elsewhere)
    return shared, elsewhere


def on(root: Path) -> dict[str, str]:
    return {"lake_url": str(root / "lake"), "exports_url": str(root / "exports")}


def test_nodes_reaching_one_shared_mount_at_paths_of_their_own_all_open(
    node_settings: Callable[..., Settings],
    tmp_path: Path,
    bind: Callable[[Path, Path], None],
) -> None:
    shared, elsewhere = shared_mount(tmp_path, bind)
    assert (elsewhere / "lake").resolve() != (shared / "lake").resolve()
    a = node_settings("node-a", **on(shared))
    b = node_settings("node-b", **on(elsewhere))
    # node-c takes the data dir's own folders, which are that mount at its own path again
    (tmp_path / "node-c").mkdir()
    for folder in ("lake", "exports"):
        bind(shared / folder, tmp_path / "node-c" / folder)
    c = node_settings("node-c")
    for settings in (a, b, c):  # the first records the places; the others open on them
        Runtime.open(settings).close()
    for settings in (a, b, c):
        Runtime.open(settings, create=False).close()
    # `db upgrade --adopt` on one node records the folder as it reaches it, and refuses none
    Runtime.open(b, adopt=True).close()
    for settings in (a, b, c):
        Runtime.open(settings, create=False).close()
    runtime = Runtime.open(a, create=False)
    try:
        with runtime.sessions() as session:
            assert get_value(session, LAKE.place_key) == f"folder:{elsewhere / 'lake'}"
        # a move to object storage, adopted: every folder is refused now, the same way
        with runtime.sessions.begin() as session:
            set_value(session, LAKE.place_key, str(BUCKET))
    finally:
        runtime.close()
    with pytest.raises(LakeVersionError) as refused:
        Runtime.open(b, create=False)
    assert str(refused.value) == (
        f"PULLSTATS_LAKE_URL={elsewhere / 'lake'}: {elsewhere / 'lake'}/_meta.json: the "
        "installation's lake is s3://pullstats/lake (the catalog records it there), and this "
        f"command's is the folder {elsewhere / 'lake'}: is PULLSTATS_LAKE_URL wrong? Nothing "
        "was changed. If the lake was moved here on purpose, `pullstats db upgrade --adopt` "
        "records its new place"
    )
    with pytest.raises(LakeVersionError, match="is PULLSTATS_LAKE_URL missing\\?"):
        Runtime.open(c)


def test_a_node_at_another_place_that_loses_the_race_to_record_it_is_refused(
    node_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two nodes open at once, each finding no place recorded; node-a records its own first,
    and node-b's record is left (never over one): node-b is checked against node-a's, as if
    it had read it."""
    settings = node_settings("node-a")
    runtime = Runtime.open(settings)  # records the lake's id and the data dir's folder
    hidden = {LAKE.place_key}
    asked: list[str] = []

    def before_node_a(session: Session, key: str) -> str | None:
        if key in hidden:  # read once before node-a recorded it
            hidden.remove(key)
            asked.append(key)
            return None
        return get_value(session, key)

    monkeypatch.setattr(store_identity, "get_value", before_node_a)
    try:
        with pytest.raises(LakeVersionError) as refused:
            installation_store(
                LAKE,
                Description(settings.lake),
                runtime.sessions,
                create=True,
                setting=f"PULLSTATS_LAKE_URL={BUCKET}",
                place=BUCKET,
            )
        assert asked == [LAKE.place_key]
        recorded = "the installation's lake is the data dir's folder (the catalog records it there)"
        assert recorded in str(refused.value)
        with runtime.sessions() as session:
            assert (
                get_value(session, LAKE.place_key)
                == f"data-dir:{(settings.paths.root / 'lake').resolve()}"
            )
        # a node that loses the race at a folder of its own path is the shared folder's
        elsewhere = tmp_path / "mnt-b" / "exports"
        hidden.add(EXPORTS.place_key)
        installation_store(
            EXPORTS,
            ExportsDescription(settings.exports_store),
            runtime.sessions,
            create=True,
            setting=f"PULLSTATS_EXPORTS_URL={elsewhere}",
            place=Place.folder(elsewhere, settings.paths.root),
        )
        assert asked == [LAKE.place_key, EXPORTS.place_key]
    finally:
        runtime.close()
