"""Two `pullstats serve` nodes (two data dirs, one catalog, one shared keys dir): a login on one
is accepted by the other, and both report themselves alive in the catalog at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from pullstats.accounts import service
from pullstats.config import Settings
from pullstats.db.models import Node
from pullstats.runtime import Runtime
from tests.conftest import start_server

PASSWORD = "alice-has-a-long-password"
PULLS = "/api/publisher/analytics/v1/namespaces/acme/pulls"


@pytest.mark.e2e
def test_a_token_from_one_node_is_accepted_by_the_other(tmp_path: Path) -> None:
    keys = tmp_path / "shared-keys"
    keys.mkdir(mode=0o700)
    catalog = f"sqlite:///{tmp_path / 'shared-catalog.sqlite3'}"
    setup = Runtime.open(Settings(data_dir=tmp_path / "a", database_url=catalog, keys_dir=keys))
    with setup.sessions.begin() as session:
        service.create_namespace(session, "acme")
        service.create_user(session, "alice", PASSWORD)
        service.add_member(session, "acme", "alice", "member")
    env = {
        "PULLSTATS_DATABASE_URL": catalog,
        "PULLSTATS_KEYS_DIR": str(keys),
        "PULLSTATS_LAKE_URL": str(tmp_path / "a" / "lake"),  # the lake every node shares
        "PULLSTATS_EXPORTS_URL": str(tmp_path / "a" / "exports"),  # and the exports store
        "PULLSTATS_SCHEDULE_INTERVAL": "0",
    }
    a = start_server(tmp_path / "a", tmp_path / "a.log", {**env, "PULLSTATS_NODE_NAME": "a"})
    try:
        b = start_server(tmp_path / "b", tmp_path / "b.log", {**env, "PULLSTATS_NODE_NAME": "b"})
        try:
            with a.client() as client:
                login = client.post(
                    "/v2/users/login", json={"username": "alice", "password": PASSWORD}
                )
            assert login.status_code == 200, login.text
            bearer = {"Authorization": f"Bearer {login.json()['token']}"}
            with b.client() as client:
                answer = client.get(PULLS, headers=bearer)
            assert answer.status_code == 200, answer.text
            with setup.sessions() as session:
                nodes = {row.name: row for row in session.scalars(select(Node))}
            assert set(nodes) == {"a", "b"}  # each server's first heartbeat, at its start
            assert nodes["b"].data_dir == str((tmp_path / "b").resolve())
            assert nodes["a"].watermark is None  # alive, never processed: holds periods open
            with b.client() as client:
                metrics = client.get("/metrics").text
            assert 'pullstats_node_live{node="a"} 1.0' in metrics
            assert 'pullstats_node_live{node="b"} 1.0' in metrics
            assert "pullstats_node_watermark_seconds{" not in metrics  # neither processed yet
        finally:
            b.stop()
    finally:
        a.stop()
        setup.close()
