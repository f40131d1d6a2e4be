"""``/metrics`` while the PostgreSQL catalog refuses connections, and after it takes them again.

A scrape reads the nodes from the catalog (``pullstats_node_*``). A catalog that could not be
read failed the whole scrape with a ``500`` and a traceback in the server's log at each scrape,
so the HTTP and ingest metrics were lost exactly when an operator needed them. Now the scrape
answers ``200`` without the node gauges and with ``pullstats_catalog_read_ok 0``, and logs the
failure once, in one line. The outage is real: the database is closed to new connections and its
connections are ended, as a restart or a failover of the database server does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import fresh_postgres_url, postgres_databases, start_server

FAILED = "/metrics: the catalog could not be read"
AGAIN = "/metrics: the catalog can be read again"


def _close(database: str, allow: bool) -> None:
    """Open or close ``database`` to new connections; closing also ends the ones it has."""
    with postgres_databases().admin().connect() as connection:
        connection.execute(
            text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {"true" if allow else "false"}')
        )
        if not allow:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                {"d": database},
            )


@pytest.mark.e2e
def test_a_scrape_outlives_a_catalog_that_refuses_connections(tmp_path: Path) -> None:
    url = fresh_postgres_url()
    database = make_url(url).database
    assert database is not None
    log = tmp_path / "server.log"
    env = {"PULLSTATS_DATABASE_URL": url, "PULLSTATS_NODE_NAME": "a"}
    server = start_server(tmp_path / "data", log, {**env, "PULLSTATS_SCHEDULE_INTERVAL": "0"})
    try:
        with server.client() as client:
            before = client.get("/metrics")
            assert before.status_code == 200
            assert "pullstats_catalog_read_ok 1.0" in before.text
            assert 'pullstats_node_live{node="a"} 1.0' in before.text
            _close(database, allow=False)
            try:
                during = [client.get("/metrics") for _ in range(3)]
            finally:
                _close(database, allow=True)
            after = client.get("/metrics")
    finally:
        server.stop()
    for answer in during:
        assert answer.status_code == 200, answer.text
        assert "pullstats_catalog_read_ok 0.0" in answer.text
        assert "pullstats_node_live{" not in answer.text  # left out, never a stale value
        assert "pullstats_http_requests_total{" in answer.text  # the rest served as ever
    assert after.status_code == 200
    assert "pullstats_catalog_read_ok 1.0" in after.text
    assert 'pullstats_node_live{node="a"} 1.0' in after.text
    text_of_log = log.read_text()
    failures = [line for line in text_of_log.splitlines() if FAILED in line]
    assert len(failures) == 1, text_of_log  # once for the outage, not once per scrape
    assert "WARNING" in failures[0] and "not currently accepting connections" in failures[0]
    assert text_of_log.count(AGAIN) == 1
    assert "Traceback" not in text_of_log
