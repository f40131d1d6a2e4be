"""An extra repo moved between two namespaces of one viewer: the cached answers of both follow.

A namespace's ``group=repo`` rows list its extra repos, so the answer cache may not key an
answer by the set of extra repos alone (the set is the same after the move)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from pullstats.accounts import service
from pullstats.ingest.records import PullRequestRecord
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import Server, catalog_settings, login_tokens, start_server, write_spool

API = "/api/publisher/analytics/v1"


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Runtime, str]]:
    """alice is a member of acme and labs; partner/shared (one pull ten days ago) is an extra
    repo of acme."""
    root = tmp_path_factory.mktemp("moves")
    runtime = Runtime.open(catalog_settings(root / "data"))
    with runtime.sessions.begin() as session:
        for namespace in ("acme", "labs", "partner"):
            service.create_namespace(session, namespace)
        service.create_user(session, "alice", "alice-password")
        service.add_member(session, "acme", "alice", "member")
        service.add_member(session, "labs", "alice", "member")
        service.add_extra_repo(session, "acme", "partner/shared")
    when = micros(datetime.now(UTC) - timedelta(days=10))
    write_spool(
        runtime,
        PullRequestRecord(
            "r1", when, "GET", "partner/shared", "1.0", "sha256:0d", "192.0.2.1",
            "docker/27.3.1", "notification", now_micros(),
        ),
    )  # fmt: skip
    process(runtime)
    running = start_server(root / "data", root / "server.log")
    [token] = login_tokens(running, "alice")
    yield running, runtime, token
    running.stop()
    runtime.close()


def repos_listed(server: Server, token: str, namespace: str) -> list[str]:
    with server.client() as client:
        answer = client.get(
            f"{API}/namespaces/{namespace}/pulls",
            params={"period": "last-2-months", "group": "repo"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 200, answer.text
    return sorted({f"{row['namespace']}/{row['repo']}" for row in answer.json()["pulls"]})


def test_an_extra_repo_moved_between_a_viewers_namespaces(
    server: tuple[Server, Runtime, str],
) -> None:
    running, runtime, token = server
    assert repos_listed(running, token, "acme") == ["partner/shared"]
    assert repos_listed(running, token, "labs") == []  # both answers cached now
    with runtime.sessions.begin() as session:
        service.remove_extra_repo(session, "acme", "partner/shared")
        service.add_extra_repo(session, "labs", "partner/shared")
    assert repos_listed(running, token, "acme") == []
    assert repos_listed(running, token, "labs") == ["partner/shared"]
