"""Shared fixtures: a data dir in tmp_path, the installation, and a real server process.

Also the ``e2e`` marker, set here rather than by hand: a test is ``e2e`` when it, a fixture it
uses, or a test helper they call (followed through functions defined under ``tests``) uses one
of :data:`E2E_CALLS` — a server process, the ``pullstats`` command or any other child process,
or a browser. ``pytest -m "not e2e and not slow"`` is the fast tier (CONTRIBUTING.md). Should the
scan miss one, :func:`run_cli` and :func:`start_server` fail the unmarked test that calls them.

The catalog: SQLite in the data dir, or with ``PULLSTATS_TEST_CATALOG=postgresql`` a fresh
PostgreSQL database for each data dir (made from ``PULLSTATS_TEST_POSTGRES_URL``, dropped when
the test that made it ends). :func:`catalog_url` names it; the ``settings`` fixture,
:func:`catalog_settings`, :func:`cli_env` and so :func:`start_server` all use it, so the
commands and servers a test starts share the catalog of the test's own runtime.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from pullstats.config import Settings
from pullstats.db.engine import make_engine
from pullstats.db.migrate import ensure_schema
from pullstats.ingest.records import PullRequestRecord
from pullstats.lake.spool import SpoolWriter
from pullstats.lake_schema import ACTIONS, IMPORTED_TRENDS
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.cli_fork import ForkedProcess, run_pullstats_command, start_pullstats_command

#: names whose use makes a test e2e: our helpers that start pullstats, any child process, a browser
E2E_CALLS = frozenset(
    {
        "run_cli",
        "run_pullstats",
        "start_server",
        "uvicorn",
        "subprocess",
        "Popen",
        "sync_playwright",
    }
)

#: argon2 at the standard cost is a third of a CPU-second a hash, and the suite makes hundreds:
#: tests hash at the cheapest cost (the CLI and servers they start too, through cli_env), except
#: where the cost is the point (tests/accounts/test_timing.py)
PASSWORD_HASHING = "PULLSTATS_PASSWORD_HASHING"
os.environ.setdefault(PASSWORD_HASHING, "insecure-test")

#: ``PULLSTATS_TEST_THOROUGH=1`` (CI's PostgreSQL run, CONTRIBUTING.md): every property test
#: draws its full number of examples. Without it, as in the README's test command, each draws a
#: third of them (at least 10), which keeps that command within its five minutes on two cores;
#: a failing example is kept in Hypothesis's database and tried first in every run after.
THOROUGH_ENV = "PULLSTATS_TEST_THOROUGH"
THOROUGH = os.environ.get(THOROUGH_ENV) == "1"


#: No property test has a time limit per example: Hypothesis's default deadline (200 ms) is a
#: timed assertion, and on a loaded machine it failed examples that were only slow
#: (tests/ingest/test_notification_properties.py, with a load average of 10)
hypothesis_settings.register_profile("pullstats", deadline=None)
hypothesis_settings.load_profile("pullstats")


def examples(thorough: int) -> int:
    """How many examples a property test draws in this run: ``thorough`` in a thorough run."""
    return thorough if THOROUGH else max(10, thorough // 3)


_current_test: pytest.Item | None = None

#: which catalog the suite runs on: "sqlite" (the default) or "postgresql"
CATALOG_ENV = "PULLSTATS_TEST_CATALOG"
#: the PostgreSQL server the tests make their databases in, e.g.
#: postgresql+psycopg://postgres@127.0.0.1:5432/test (CONTRIBUTING.md)
POSTGRES_ENV = "PULLSTATS_TEST_POSTGRES_URL"
CATALOGS = ("sqlite", "postgresql")
TEST_CATALOG = os.environ.get(CATALOG_ENV, "sqlite") or "sqlite"
ON_POSTGRESQL = TEST_CATALOG == "postgresql"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker more than the cores. A worker spends a third of its time
    waiting (on a server it started, a browser, PostgreSQL, a child process), and a third
    worker fills that time: on 2 cores the suite took 247 s with 3 workers against 294 s
    with 2 and 277 s with 4 (CONTRIBUTING.md)."""
    return len(os.sched_getaffinity(0)) + 1


def pytest_configure(config: pytest.Config) -> None:
    if TEST_CATALOG not in CATALOGS:
        raise pytest.UsageError(f"{CATALOG_ENV}={TEST_CATALOG}: use one of {', '.join(CATALOGS)}")
    if ON_POSTGRESQL and not os.environ.get(POSTGRES_ENV):
        raise pytest.UsageError(f"{CATALOG_ENV}=postgresql needs {POSTGRES_ENV} (CONTRIBUTING.md)")


class PostgresDatabases:
    """Fresh databases on the test server: made on demand, dropped when their owner ends."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._admin: Engine | None = None
        #: database name -> the test that made it (None: made by a module fixture)
        self.made: dict[str, str | None] = {}

    def admin(self) -> Engine:
        if self._admin is None:
            self._admin = create_engine(self.base_url, isolation_level="AUTOCOMMIT")
        return self._admin

    def url(self, name: str) -> str:
        return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, owner: str | None) -> str:
        if name not in self.made:
            with self.admin().connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            self.made[name] = owner
        return self.url(name)

    def drop(self, name: str) -> None:
        self.made.pop(name, None)
        with self.admin().connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop_made_by(self, owner: str | None) -> None:
        for name in [name for name, made_by in self.made.items() if made_by == owner]:
            self.drop(name)

    def close(self) -> None:
        for name in list(self.made):
            self.drop(name)
        if self._admin is not None:
            self._admin.dispose()


_postgres: PostgresDatabases | None = None
#: this test process's prefix: names never collide with another worker's or an earlier run's
_RUN = uuid.uuid4().hex[:8]


def postgres_databases() -> PostgresDatabases:
    """The test server's databases; skips the test when no server is configured."""
    global _postgres
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"no PostgreSQL: set {POSTGRES_ENV} (CONTRIBUTING.md) to run this")
    if _postgres is None:
        _postgres = PostgresDatabases(base)
    return _postgres


def fresh_postgres_url() -> str:
    """A new empty PostgreSQL database for the current test, dropped when it ends."""
    owner = _current_test.nodeid if _current_test is not None else None
    return postgres_databases().create(f"pullstats_{_RUN}_{uuid.uuid4().hex[:12]}", owner)


def catalog_url(data_dir: Path) -> str | None:
    """The catalog URL of ``data_dir``'s installation: None for SQLite in the data dir, else
    its own PostgreSQL database (the same one every time it is asked for that data dir)."""
    if not ON_POSTGRESQL:
        return None
    key = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    owner = _current_test.nodeid if _current_test is not None else None
    return postgres_databases().create(f"pullstats_{_RUN}_{key}", owner)


def catalog_settings(data_dir: Path, **values: Any) -> Settings:
    """Settings of the installation in ``data_dir``, on the suite's catalog (see catalog_url)."""
    return Settings(data_dir=data_dir, database_url=catalog_url(data_dir), **values)


def only_on_sqlite(why: str) -> None:
    """Skip a test that is about the SQLite file itself when the suite runs on PostgreSQL."""
    if ON_POSTGRESQL:
        pytest.skip(f"about the SQLite catalog file ({why}); the suite runs on PostgreSQL")


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _postgres is not None:
        _postgres.close()
    if _catalog_template is not None:
        shutil.rmtree(_catalog_template.parent, ignore_errors=True)


def _code_names(code: Any) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):  # nested functions, lambdas, comprehensions
            names |= _code_names(const)
    return names


def _uses_e2e(func: Any, seen: set[Any]) -> bool:
    """Whether ``func``, or a function of the tests it calls by name, uses an E2E_CALLS name."""
    func = inspect.unwrap(func)
    code = getattr(func, "__code__", None)
    if code is None or func in seen:
        return False
    seen.add(func)
    names = _code_names(code)
    if names & E2E_CALLS:
        return True
    module_globals = getattr(func, "__globals__", {})
    for name in names:
        target = module_globals.get(name)
        in_tests = inspect.isfunction(target) and target.__module__.startswith("tests")
        if in_tests and _uses_e2e(target, seen):
            return True
    return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("e2e") or not isinstance(item, pytest.Function):
            continue
        seen: set[Any] = set()
        fixtures = item._fixtureinfo.name2fixturedefs
        funcs = [item.function] + [d.func for defs in fixtures.values() for d in defs]
        if any(_uses_e2e(func, seen) for func in funcs):
            item.add_marker(pytest.mark.e2e)
    # The modules with long tests first, each whole and in its own order (which pytest chose to
    # set each module fixture up once), the others as collected: a module with a slow test, then
    # one with an e2e test. Under ``--dist loadgroup`` every ungrouped test is a unit of its own,
    # handed out in this order after the groups: a long one near the end (mypy's half minute, a
    # property run) was a tail that one worker ran while the others had finished.
    rank: dict[str, tuple[bool, bool]] = {}
    for item in items:
        long = (not item.get_closest_marker("slow"), not item.get_closest_marker("e2e"))
        module = item.nodeid.split("::")[0]
        rank[module] = min(rank.get(module, long), long)
    items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])


@pytest.fixture(autouse=True)
def _remember_the_test(request: pytest.FixtureRequest) -> Iterator[None]:
    global _current_test
    _current_test = request.node
    yield
    _current_test = None
    if _postgres is not None:  # the test's servers have stopped: its databases can go
        _postgres.drop_made_by(request.node.nodeid)


def require_e2e_mark(what: str) -> None:
    """Fail a test that starts ``what`` without being marked e2e (the fast tier must not)."""
    if _current_test is not None and _current_test.get_closest_marker("e2e") is None:
        pytest.fail(f"{_current_test.nodeid} starts {what}: mark it @pytest.mark.e2e")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return catalog_settings(data_dir)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = fresh_runtime(settings)
    yield rt
    rt.close()


_catalog_template: Path | None = None


def fresh_runtime(settings: Settings) -> Runtime:
    """``Runtime.open(settings)``, a new default SQLite catalog first copied from one the
    migrations made once in this worker.

    Running the fifteen migrations costs 50-100 ms a catalog, which the suite paid for each of
    its hundreds of fresh data dirs. The copy is the same file: the migrations' tables, empty,
    at the newest revision; opening it records the keys as on a new catalog. Creating a
    catalog is tested on its own (tests/accounts/test_migrations.py, `pullstats db upgrade`).
    """
    global _catalog_template
    if settings.database_url is not None:  # not the default SQLite file: nothing to copy
        return Runtime.open(settings)
    catalog = Path(str(make_url(settings.database_url_value).database))
    if not catalog.exists():
        if _catalog_template is None:
            template = Path(tempfile.mkdtemp(prefix="pullstats-catalog-")) / "catalog.sqlite3"
            engine = make_engine(f"sqlite:///{template}")
            try:
                ensure_schema(engine)
            finally:
                engine.dispose()
            _catalog_template = template
        settings.paths.ensure()
        shutil.copyfile(_catalog_template, catalog)
    return Runtime.open(settings)


def actions_table(rows: list[dict[str, object]]) -> pa.Table:
    """A table of the lake's actions (``lake_schema.ACTIONS``): each row as given, every
    column it leaves out NULL."""
    return pa.Table.from_pylist(
        [{name: row.get(name) for name in ACTIONS.columns} for row in rows], schema=ACTIONS.schema
    )


def trend(
    repository: str,
    tag: str,
    cloud: str,
    tool: str,
    downloads: int,
    checks: int,
    file: str = "a",
    **more: object,
) -> dict[str, object]:
    """One imported DVP Core Trends row of acme (``lake_schema.IMPORTED_TRENDS``), from file
    ``file``; ``more`` sets the other columns (country, users)."""
    return (
        dict(
            namespace="acme",
            repository=repository,
            tag=tag,
            cloud_provider=cloud,
            user_agent=tool,
            data_downloads=downloads,
            version_checks=checks,
            filename=file,
        )
        | more
    )


def trends_table(*rows: dict[str, object]) -> pa.Table:
    """Imported Trends rows with the ``filename`` a by-file input carries; columns left out
    are NULL."""
    schema = IMPORTED_TRENDS.schema.append(pa.field("filename", pa.string()))
    return pa.Table.from_pylist([{f.name: row.get(f.name) for f in schema} for row in rows], schema)


def write_spool(runtime: Runtime, *records: PullRequestRecord) -> None:
    """Append records to the spool as the server would, and close the segment."""
    write_spool_lines(runtime, b"".join(r.to_line() for r in records))


def write_one_pull(runtime: Runtime, when: datetime, user_agent: str = "docker/27.3.1") -> None:
    """One pull of ``acme/api:1.0`` at ``when`` into the spool."""
    write_spool(
        runtime,
        PullRequestRecord(
            "r1", micros(when), "GET", "acme/api", "1.0", "sha256:ab", "192.0.2.7",
            user_agent, "notification", now_micros(),
        ),
    )  # fmt: skip


def write_spool_lines(runtime: Runtime, lines: bytes) -> None:
    """Append ``lines`` to the spool as they are (damaged ones too), and close the segment."""
    writer = SpoolWriter(runtime.paths.spool, segment_bytes=1 << 20)
    try:
        writer.append(lines)
    finally:
        writer.close()


def cli_env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULLSTATS_")}
    env[PASSWORD_HASHING] = os.environ[PASSWORD_HASHING]
    env["PULLSTATS_DATA_DIR"] = str(data_dir)
    database_url = catalog_url(data_dir)
    if database_url is not None:
        env["PULLSTATS_DATABASE_URL"] = database_url
    env.update(extra or {})
    return env


def run_cli(
    data_dir: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``pullstats`` command line in a child process against ``data_dir`` (with
    ``env`` added to its environment)."""
    require_e2e_mark("the pullstats command")
    return run_pullstats_command(list(args), cli_env(data_dir, env), stdin)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: The CA bundle, loaded once: a new httpx client loads it again (16-25 ms a client, 140 ms
#: under load; a fifth of the time of a module that asks a hundred questions), and the tests'
#: servers speak plain HTTP on loopback anyway.
TLS = httpx.create_ssl_context()


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes] | ForkedProcess
    data_dir: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, verify=TLS)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def login_tokens(server: Server, *users: str) -> list[str]:
    """The login JWT of each user, whose password is ``<user>-password``."""
    tokens = []
    with server.client() as client:
        for user in users:
            answer = client.post(
                "/v2/users/login", json={"username": user, "password": f"{user}-password"}
            )
            tokens.append(answer.json()["token"])
    return tokens


def start_server(
    data_dir: Path, log: Path, env: dict[str, str] | None = None, *args: str
) -> Server:
    """``pullstats serve ARGS`` in a child process on a free loopback port, once /healthz
    answers."""
    require_e2e_mark("a server process")
    # the port is found free here and bound by the child: another test's server can take it in
    # between (it did once, under xdist), and then the child exits saying so; take another
    for _ in range(3):
        server = _serve_on_a_free_port(data_dir, log, env, args)
        if server is not None:
            return server
    raise RuntimeError(f"no free port after 3 tries: {log.read_text()}")


def _serve_on_a_free_port(
    data_dir: Path, log: Path, env: dict[str, str] | None, args: tuple[str, ...]
) -> Server | None:
    """The started server, or None when its port was taken before it bound it."""
    port = free_port()
    start = log.stat().st_size if log.exists() else 0
    process = start_pullstats_command(
        ["serve", "--host", "127.0.0.1", "--port", str(port), *args], cli_env(data_dir, env), log
    )
    server = Server(f"http://127.0.0.1:{port}", process, data_dir)
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=1) as client:  # one client: each new one loads the CA bundle
        while time.monotonic() < deadline:
            if process.poll() is not None:
                if b"already in use" in log.read_bytes()[start:]:  # serve says so, by name
                    return None
                raise RuntimeError(f"server exited: {log.read_text()}")
            try:
                if client.get(f"{server.url}/healthz").status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
    server.stop()
    raise RuntimeError(f"server did not start: {log.read_text()}")


def server_of_its_own(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Server]:
    """For a module-scoped fixture to ``yield from``: a server on a new data dir of its own
    (``<tmp>/<name>N/data``, its log ``server.log`` beside it), stopped when the fixture ends."""
    root = tmp_path_factory.mktemp(name)
    srv = start_server(root / "data", root / "server.log")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def server(data_dir: Path, tmp_path: Path) -> Iterator[Server]:
    srv = start_server(data_dir, tmp_path / "server.log")
    yield srv
    srv.stop()


#: Debian's chromium (scripts/system-deps.sh): Playwright drives it, never a browser of its own
CHROMIUM = "/usr/bin/chromium"


def launch_chromium() -> Iterator[Any]:
    """A headless Chromium for a browser fixture to ``yield from``: skipped with
    ``PULLSTATS_SKIP_BROWSER=1``, a one-line failure when the browser or Playwright is
    missing, closed when the fixture ends."""
    if os.environ.get("PULLSTATS_SKIP_BROWSER") == "1":
        pytest.skip("PULLSTATS_SKIP_BROWSER=1: browser tests skipped")
    if not (Path(CHROMIUM).is_file() and shutil.which(CHROMIUM)):
        pytest.fail(
            f"no chromium at {CHROMIUM}: run scripts/system-deps.sh (Debian's chromium), "
            "or set PULLSTATS_SKIP_BROWSER=1 to skip the browser tests",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]'", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            launched.close()


def with_ctrl_c() -> None:
    """A child's ``preexec_fn``: SIGINT back to its default. A shell's background job (a CI
    script's ``&``) ignores SIGINT, an ignored signal stays ignored across ``exec``, and Python
    then leaves it so: a test's Ctrl-C would reach no one."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
