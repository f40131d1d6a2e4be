"""Every request reads the catalog's versions; on PostgreSQL on the event loop (pg_versions).

The rotation test runs on SQLite and on a real PostgreSQL server like the rest of the account
suite; the checks of the event-loop reader itself run on PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from pullstats.accounts import service
from pullstats.api.pg_versions import RETRY_AFTER, PostgresVersions, libpq_uri
from pullstats.runtime import Runtime
from tests.accounts.conftest import Api, accounts_epoch, run_pullstats, seed_user
from tests.envelopes import ENVELOPE_TYPE, envelope, pull_event

BODY = json.dumps(
    envelope(pull_event(datetime(2026, 3, 2, 12, tzinfo=UTC), "acme/api", tag="1.0"))
).encode()


#: the event-loop reader is PostgreSQL's: these run only on the PostgreSQL half of the suite
POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _bump(runtime: Runtime) -> None:
    """An accounts change made outside the reader, as the CLI or a second server makes it."""
    with runtime.sessions.begin() as session:
        service.create_ingest_token(session, "another-registry")


def test_libpq_uri_keeps_everything_but_the_driver() -> None:
    url = "postgresql+psycopg://user:p%40ss@db.example:6543/stats?sslmode=require"
    assert libpq_uri(url) == "postgresql://user:p%40ss@db.example:6543/stats?sslmode=require"


@POSTGRES_ONLY
def test_reads_see_every_change_committed_before_them(
    accounts_runtime: Runtime, database_url: str | None
) -> None:
    assert database_url is not None

    async def scenario(url: str) -> None:
        reader = PostgresVersions(url)
        try:
            start = (await reader.read()).accounts_epoch
            assert start == accounts_epoch(accounts_runtime)
            for step in range(1, 4):
                _bump(accounts_runtime)
                # requests arriving together share reads; each sees the change made before it
                sent = reader.round_trips
                seen = await asyncio.gather(*(reader.read() for _ in range(50)))
                assert {versions.accounts_epoch for versions in seen} == {start + step}
                # the first reads at once; the 49 arriving during its read share the next
                assert reader.round_trips - sent == 2
        finally:
            await reader.close()

    asyncio.run(scenario(database_url))


@POSTGRES_ONLY
def test_a_failed_read_raises_and_pauses_the_reader(database_url: str | None) -> None:
    unreachable = "postgresql+psycopg://pullstats:secret@127.0.0.1:9/none"  # nothing listens

    async def scenario() -> None:
        reader = PostgresVersions(unreachable)
        assert reader.available
        with pytest.raises(Exception) as raised:
            await reader.read()
        assert "secret" not in str(raised.value)
        assert not reader.available  # the API reads through the thread pool for a while
        await reader.close()

    asyncio.run(scenario())


def _deliver(api: Api, token: str) -> httpx.Response:
    with api.client() as client:
        return client.post(
            "/ingest/v1/registry/events",
            content=BODY,
            headers={"Content-Type": ENVELOPE_TYPE, "Authorization": f"Bearer {token}"},
        )


def _cli(data_dir: Path, database_url: str | None, *args: str) -> str:
    done = run_pullstats(data_dir, database_url, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def test_a_revoked_ingest_token_fails_its_very_next_delivery(
    api: Api, data_dir: Path, database_url: str | None
) -> None:
    # the documented rotation; the revocation is made by the CLI, another process, right after
    # the server used (and cached) the old token: only the catalog read tells the server
    old = _cli(data_dir, database_url, "ingest-tokens", "create", "registry-a")
    assert _deliver(api, old).status_code == 200
    new = _cli(data_dir, database_url, "ingest-tokens", "create", "registry-b")
    assert _deliver(api, new).status_code == 200
    assert _deliver(api, old).status_code == 200
    _cli(data_dir, database_url, "ingest-tokens", "revoke", old.split("_")[1])
    refused = _deliver(api, old)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "invalid ingest token"}
    accepted = _deliver(api, new)
    assert accepted.status_code == 200
    assert accepted.json()["accepted"] == 1


@POSTGRES_ONLY
def test_the_server_survives_losing_its_versions_connection(api: Api) -> None:
    # what a database restart or a network cut does to the connection the reads run on
    seed_user(api.runtime, "alice", "acme")
    token = api.token("alice")
    pulls = "/api/publisher/analytics/v1/namespaces/acme/pulls"
    assert api.get(pulls, token).status_code == 200

    def versions_backends() -> set[int]:
        with api.runtime.engine.begin() as connection:
            rows = connection.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE application_name = 'pullstats-api-versions' "
                    # the view spans the cluster: other workers' servers read other databases
                    "AND datname = current_database()"
                )
            ).all()
        return {int(row[0]) for row in rows}

    (cut,) = versions_backends()
    with api.runtime.engine.begin() as connection:
        assert connection.execute(text(f"SELECT pg_terminate_backend({cut})")).scalar()
    # the next requests are answered (through the thread pool, then a new connection) and
    # still see an accounts change made meanwhile
    assert api.get(pulls, token).status_code == 200
    with api.runtime.sessions.begin() as session:
        assert service.set_user_disabled(session, "alice", True)
    assert api.get(pulls, token).status_code == 401
    # no new connection during the pause (the cut one may still be on its way out) ...
    assert versions_backends() <= {cut}
    time.sleep(RETRY_AFTER + 0.2)
    assert api.get(pulls, token).status_code == 401
    # ... and after it the reads are back on a connection of their own
    (again,) = versions_backends() - {cut}
    assert again != cut
