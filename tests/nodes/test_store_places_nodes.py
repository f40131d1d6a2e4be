"""The stores' places (store_identity.py) with several nodes on one catalog: the catalog keeps
one place per store for the whole installation, and the nodes reach one shared mount at paths
of their own (docs/operations.md: "object storage or a shared mount"). Every folder is one
place; object storage for a folder is still refused."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pullstats.config import Settings
from pullstats.db.state import get_value, set_value
from pullstats.lake_identity import LAKE
from pullstats.lake_meta import LakeVersionError
from pullstats.runtime import Runtime
from pullstats.store_identity import Place

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
