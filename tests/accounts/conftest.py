"""Account-suite fixtures: every test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``PULLSTATS_TEST_POSTGRES_URL`` (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test gets a database of its own,
dropped afterwards. Without the variable the PostgreSQL half is skipped, saying why; with
``PULLSTATS_TEST_CATALOG=postgresql`` (the whole suite on PostgreSQL) the SQLite half is.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from pullstats.accounts import service
from pullstats.accounts.jwt_tokens import JWT_KEY
from pullstats.api.app import create_app
from pullstats.api.state import AppState
from pullstats.config import Settings
from pullstats.db.state import catalog_versions
from pullstats.runtime import Runtime
from tests.cli_fork import run_pullstats_command
from tests.conftest import (
    CATALOG_ENV,
    ON_POSTGRESQL,
    cli_env,
    fresh_postgres_url,
    fresh_runtime,
    require_e2e_mark,
)

PASSWORD = "correct horse battery staple"


CATALOG_PARAMS = ["sqlite", "postgresql"]


def catalog_database_url(catalog: str) -> str | None:
    """None for the default SQLite catalog in the data dir, else a fresh PostgreSQL database
    (dropped when the test ends; one a module fixture makes, when the session ends)."""
    if catalog == "postgresql":
        return fresh_postgres_url()
    if ON_POSTGRESQL:
        pytest.skip(f"{CATALOG_ENV}=postgresql: the [postgresql] case runs this on PostgreSQL")
    return None


@pytest.fixture(params=CATALOG_PARAMS)
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None for the default SQLite catalog in the data dir, else a fresh PostgreSQL database
    (dropped when the test ends)."""
    return catalog_database_url(request.param)


def accounts_settings(data_dir: Path, database_url: str | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        # generous unless a test is about the limits
        "login_attempts_per_account": 1000,
        "login_attempts_per_ip": 1000,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def make_settings(data_dir: Path, database_url: str | None) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return accounts_settings(data_dir, database_url, **overrides)

    return make


@pytest.fixture
def accounts_runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    runtime = fresh_runtime(make_settings())
    yield runtime
    runtime.close()


@dataclass
class Api:
    """A real uvicorn server on a loopback port, the runtime used to seed its catalog, and the
    app's state (its caches)."""

    url: str
    runtime: Runtime
    state: AppState

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    @property
    def jwt_key(self) -> bytes:
        return self.runtime.paths.secret_key(JWT_KEY)

    def login(self, username: str, password: str, **headers: str) -> httpx.Response:
        with self.client() as client:
            return client.post(
                "/v2/users/login",
                json={"username": username, "password": password},
                headers=headers,
            )

    def token(self, username: str, password: str = PASSWORD) -> str:
        response = self.login(username, password)
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    def get(self, path: str, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        with self.client() as client:
            return client.get(path, headers=headers)


@contextlib.contextmanager
def serving(settings: Settings, runtime: Runtime) -> Iterator[Api]:
    """The API of ``settings`` in a real uvicorn server on a loopback port, until the end."""
    # the socket is bound here and handed over: a port found free and bound later could be
    # taken in between by another test's server (it was, once, under xdist)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = int(listening.getsockname()[1])
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        proxy_headers=False,  # as `pullstats serve` runs it
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        yield Api(f"http://127.0.0.1:{port}", runtime, app.state.pullstats)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def start_api(
    make_settings: Callable[..., Settings], accounts_runtime: Runtime
) -> Iterator[Callable[..., Api]]:
    with contextlib.ExitStack() as servers:

        def start(**overrides: Any) -> Api:
            return servers.enter_context(serving(make_settings(**overrides), accounts_runtime))

        yield start


@pytest.fixture
def api(start_api: Callable[..., Api]) -> Api:
    return start_api()


def accounts_epoch(runtime: Runtime) -> int:
    """The catalog's accounts epoch, read as the server reads it."""
    connection = runtime.engine.raw_connection()
    try:
        return catalog_versions(connection).accounts_epoch
    finally:
        connection.close()


def seed_user(runtime: Runtime, name: str, *namespaces: str, password: str = PASSWORD) -> None:
    """A user who is a member of each namespace (created when missing)."""
    with runtime.sessions.begin() as session:
        service.create_user(session, name, password)
        for namespace in namespaces:
            if namespace not in service.registered_namespaces(session):
                service.create_namespace(session, namespace)
            service.add_member(session, namespace, name, "member")


def run_pullstats(
    data_dir: Path, database_url: str | None, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The real ``pullstats`` command line against this test's data dir and catalog."""
    require_e2e_mark("the pullstats command")
    extra = {"PULLSTATS_DATABASE_URL": database_url} if database_url else {}
    return run_pullstats_command(list(args), cli_env(data_dir, extra), stdin)


def cli_outcome(
    data_dir: Path, database_url: str | None, *args: str, stdin: str | None = None
) -> tuple[int, str, str]:
    """:func:`run_pullstats`'s status, standard output and error, which holds no traceback."""
    result = run_pullstats(data_dir, database_url, *args, stdin=stdin)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout, result.stderr
