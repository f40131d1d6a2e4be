"""Every node writes and serves the installation's one exports store (exports_identity.py):
nodes starting together on a new installation give it one id, and a node whose exports would
go to a folder of its own is refused. Two data dirs, one catalog."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from pullstats.db.state import get_value
from pullstats.exports_identity import CATALOG_KEY, ExportsStoreRefused
from pullstats.runtime import Runtime


def store_id(tmp_path: Path) -> str:
    found: str = json.loads((tmp_path / "shared-exports" / "_exports.json").read_text())[
        CATALOG_KEY
    ]
    return found


def test_nodes_starting_together_give_the_store_one_id(
    open_node: Callable[..., Runtime], tmp_path: Path
) -> None:
    """node-b has read the empty store and the catalog (no id in either) when node-a opens
    whole, recording its id and writing it into the store: node-b's own id is refused by the
    catalog, and it takes node-a's."""
    opened: list[Runtime] = []
    started: list[bool] = []

    def node_a_opens_first(conn, cursor, statement, parameters, *args: object) -> None:  # type: ignore[no-untyped-def]
        inserting = "INSERT INTO pipeline_state" in statement
        if inserting and CATALOG_KEY in str(parameters) and not started:
            started.append(True)  # node-a's own insert passes
            opened.append(open_node("node-a"))

    # every engine's: node-b's is made inside Runtime.open
    event.listen(Engine, "before_cursor_execute", node_a_opens_first)
    try:
        b = open_node("node-b")
    finally:
        event.remove(Engine, "before_cursor_execute", node_a_opens_first)
    [a] = opened
    agreed = store_id(tmp_path)
    for node in (a, b):
        with node.sessions() as session:
            assert get_value(session, CATALOG_KEY) == agreed
    open_node("node-b").close()  # and node-b opens on it again


def test_a_node_whose_exports_go_to_its_own_folder_is_refused(
    open_node: Callable[..., Runtime], tmp_path: Path
) -> None:
    open_node("node-a")
    own = tmp_path / "node-b-exports"
    with pytest.raises(ExportsStoreRefused) as refused:
        open_node("node-b", exports_url=str(own))
    assert str(refused.value).startswith(
        f"PULLSTATS_EXPORTS_URL={own}: {own}/_exports.json: not the installation's exports "
        f"store: the catalog's exports store is {store_id(tmp_path)}, and there are no exports "
        "there (a new, empty place)."
    )
    assert not own.exists()
