"""``pullstats db copy``: an installation's catalog into another database, whole, so that the
embedded installation scales out to PostgreSQL by a change of PULLSTATS_DATABASE_URL instead of
starting over empty (its lake and exports store would be refused to a new catalog)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, select

from pullstats.db.models import Base
from tests.cli_fork import start_pullstats_command
from tests.conftest import ON_POSTGRESQL, catalog_url, cli_env, fresh_postgres_url, run_cli

LOG = Path(__file__).parent / "fixtures" / "logs" / "nginx-combined.log"
PASSWORD = "a-long-password-for-alice"


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The empty database to copy into: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'copy.sqlite3'}"
    return fresh_postgres_url()


def _installation(
    data_dir: Path, env: dict[str, str] | None = None, through: str = "2026-11-30"
) -> None:
    """An installation with accounts, tokens, counted pulls and their periods exported
    ``through`` a day (its catalog the suite's, or the one ``env`` names)."""
    data_dir.mkdir()
    for command, stdin in [
        (("users", "add", "alice", "--password-stdin", "--email", "a@example.org"), PASSWORD),
        (("namespaces", "add", "library"), None),
        (("members", "add", "library", "alice", "--role", "owner"), None),
        (("tokens", "create", "alice", "--label", "ci"), None),
        (("ingest-tokens", "create", "registry-1"), None),
        (("ingest", "logs", str(LOG)), None),
        (("process",), None),
        (("export", "--through", through), None),
    ]:
        result = run_cli(data_dir, *command, stdin=stdin, env=env)
        assert result.returncode == 0, (command, result.stderr)


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, moments as UTC (SQLite keeps them without their zone)."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: sorted(
                    (tuple(plain(v) for v in row) for row in connection.execute(select(table))),
                    key=repr,
                )
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _unmarked(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """A catalog's rows without its mark of a copy elsewhere."""
    state = [row for row in rows["pipeline_state"] if row[0] != "copied_to"]
    return {**rows, "pipeline_state": state}


def test_a_copied_catalog_is_the_installations_with_every_row(tmp_path: Path, target: str) -> None:
    data_dir = tmp_path / "data"
    _installation(data_dir)
    source = catalog_url(data_dir) or f"sqlite:///{data_dir / 'catalog.sqlite3'}"
    users_before = run_cli(data_dir, "users", "list").stdout

    copied = run_cli(data_dir, "db", "copy", "--to", target)
    assert copied.returncode == 0, copied.stderr
    assert copied.stdout.startswith("copied the catalog to ")
    assert "1 users, 1 namespaces" in copied.stdout
    marked = _rows(source)
    before = _unmarked(marked)
    assert len(marked["pipeline_state"]) == len(before["pipeline_state"]) + 1  # the mark
    assert before["users"] and before["pull_rollups"] and before["export_files"]
    # every row, the stores' ids and the epochs included; the source's mark is not copied
    assert _rows(target) == before
    assert copied.stdout.endswith(
        "The old catalog is marked as copied there: every command refuses it now\n"
    )

    moved = {"PULLSTATS_DATABASE_URL": target}
    # the copy opens the installation's lake, exports store and keys: no refusal
    assert run_cli(data_dir, "status", env=moved).returncode == 0
    assert run_cli(data_dir, "users", "list", env=moved).stdout == users_before
    # ids go on after the copied ones (PostgreSQL's sequences were set)
    added = run_cli(data_dir, "users", "add", "bob", "--email", "b@example.org", env=moved)
    assert added.returncode == 0, added.stderr
    processed = run_cli(data_dir, "process", env=moved)
    assert processed.returncode == 0, processed.stderr
    assert "0 new requests" in processed.stdout  # the spool's progress came along
    assert _rows(source) == marked  # the source as it was, but for the mark of the copy

    # and where a copy would lose or mix anything: refused in one line, nothing copied
    def refused(to: str) -> str:
        result = run_cli(data_dir, "db", "copy", "--to", to)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        [line] = result.stderr.strip().splitlines()[-1:]
        return line

    assert refused(target).endswith(  # holds rows now: the copy's, and bob
        "already holds a pullstats catalog with rows (in breakdown_rollups): copy into a new, "
        "empty database"
    )
    assert refused(source).endswith("is the catalog itself: copy to another database")
    assert refused("postgres://u@h/db") == (
        "error: --to: use postgresql:// for PostgreSQL, not postgres://"
    )
    assert refused("postgresql+psycopg://postgres@127.0.0.1:1/none").startswith(
        "error: --to: cannot connect: "
    )


@dataclass(frozen=True)
class Move:
    """An installation whose catalog is to be copied into a database of the other kind."""

    data_dir: Path
    #: the source catalog: its URL, and the environment that opens it
    source: str
    source_env: dict[str, str]
    #: how a refusal names the source catalog
    named: str
    #: the target (its PostgreSQL URL with a password), as messages show it, and an
    #: environment that opens it
    target: str
    shown: str
    target_env: dict[str, str]
    #: a new, empty database of the source's kind, to copy back into
    back: str


def _with_password(url: str) -> str:
    """A PostgreSQL URL with a password (the test server trusts: it never asks for it)."""
    return make_url(url).set(password="not-to-be-seen").render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite-to-postgresql", "postgresql-to-sqlite"])
def move(request: pytest.FixtureRequest, tmp_path: Path) -> Move:
    data_dir = tmp_path / "data"
    file = data_dir / "catalog.sqlite3"
    if request.param == "sqlite-to-postgresql":
        # the data dir's SQLite catalog, PULLSTATS_DATABASE_URL not set (the embedded
        # installation); named by the setting when the suite runs on PostgreSQL
        source = f"sqlite:///{file}"
        source_env = {"PULLSTATS_DATABASE_URL": source} if ON_POSTGRESQL else {}
        named = (
            f"the SQLite catalog {file} (named by PULLSTATS_DATABASE_URL)"
            if ON_POSTGRESQL
            else f"the SQLite catalog {file} (PULLSTATS_DATABASE_URL is not set)"
        )
        target = _with_password(fresh_postgres_url())
        back = f"sqlite:///{tmp_path / 'back.sqlite3'}"
    else:
        source = _with_password(fresh_postgres_url())
        source_env = {"PULLSTATS_DATABASE_URL": source}
        named = "the database of PULLSTATS_DATABASE_URL"
        target = f"sqlite:///{tmp_path / 'copy.sqlite3'}"
        back = fresh_postgres_url()
    shown = make_url(target).render_as_string(hide_password=True)
    return Move(
        data_dir,
        source,
        source_env,
        named,
        target,
        shown,
        {"PULLSTATS_DATABASE_URL": target},
        back,
    )


def _copied(move: Move, env: dict[str, str], to: str, *options: str) -> datetime:
    """``db copy --to`` with ``env``; the minute it ran in (as its mark says the moment)."""
    started = datetime.now(UTC).replace(second=0, microsecond=0)
    copied = run_cli(move.data_dir, "db", "copy", "--to", to, *options, env=env)
    assert copied.returncode == 0, copied.stderr
    return started


def _refusal(named: str, shown: str, started: datetime) -> str:
    """The line of a command run on a catalog copied to ``shown`` in the minute ``started``
    or the next (a copy may end in the minute after it started)."""
    minutes = [started, started + timedelta(minutes=1)]
    return "|".join(
        f"error: {named} was copied to {shown} by `pullstats db copy` on "
        f"{minute:%Y-%m-%d %H:%M} UTC and is not the installation's catalog any more: set "
        "PULLSTATS_DATABASE_URL to that catalog. Nothing was changed"
        for minute in minutes
    )


def _refused(data_dir: Path, env: dict[str, str], *command: str) -> str:
    """The error line of ``command``, which must be refused: its one line of stderr (after the
    progress of ``db copy``)."""
    result = run_cli(data_dir, *command, env=env)
    assert result.returncode == 1, (command, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    if command[:2] != ("db", "copy"):
        assert len(lines) == 1, lines
    return lines[-1]


def _serve_refused(data_dir: Path, env: dict[str, str], port: int) -> str:
    """The one line of ``pullstats serve`` on ``port``, which must exit refused; a server
    that answers there instead fails the test."""
    log = data_dir.parent / f"serve-{port}.log"
    process = start_pullstats_command(
        ["serve", "--host", "127.0.0.1", "--port", str(port)], cli_env(data_dir, env), log
    )
    try:
        with httpx.Client(timeout=1) as client:
            while process.poll() is None:
                try:
                    answered: int | None = client.get(
                        f"http://127.0.0.1:{port}/healthz"
                    ).status_code
                except httpx.HTTPError:
                    answered = None
                assert answered is None, f"serve answered on the old catalog: {log.read_text()}"
                time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.poll() == 1, log.read_text()
    [line] = log.read_text().strip().splitlines()
    return line


def _mark(url: str) -> Any:
    """A catalog's mark of a copy elsewhere, as stored (None: it has none)."""
    marks = [value for key, value in _rows(url)["pipeline_state"] if key == "copied_to"]
    assert len(marks) <= 1
    return json.loads(marks[0]) if marks else None


def test_a_copied_catalog_is_refused_by_every_command_and_its_copy_works(move: Move) -> None:
    data_dir = move.data_dir
    _installation(data_dir, move.source_env)
    before = _rows(move.source)
    started = _copied(move, move.source_env, move.target)

    # the source is marked (the URL without its password) and nothing else changed
    mark = _mark(move.source)
    assert mark is not None, "the old catalog is not marked"
    assert mark["url"] == move.shown and "not-to-be-seen" not in json.dumps(mark)
    assert _unmarked(_rows(move.source)) == before
    marked = _rows(move.source)
    expected = _refusal(move.named, move.shown, started)
    port = 19100 if move.target.startswith("postgresql") else 19101
    for command in [
        ("status",),
        ("process",),
        ("export", "--through", "2026-11-30"),
        ("users", "list"),
        ("db", "upgrade"),
        ("db", "upgrade", "--adopt"),
    ]:
        assert _refused(data_dir, move.source_env, *command) in expected.split("|"), command
    assert _serve_refused(data_dir, move.source_env, port) in expected.split("|")
    assert _rows(move.source) == marked  # nothing was written by any of them

    # the copy is the installation's, with no mark: every command works on it
    assert _mark(move.target) is None
    for command in [("status",), ("process",), ("export", "--through", "2026-11-30")]:
        result = run_cli(data_dir, *command, env=move.target_env)
        assert result.returncode == 0, (command, result.stderr)
    users = run_cli(data_dir, "users", "list", env=move.target_env)
    assert users.returncode == 0 and "alice" in users.stdout, users.stderr

    # and copies back: the new one has no mark, works, and the copy is refused now
    back_started = _copied(move, move.target_env, move.back)
    assert _mark(move.back) is None
    assert _mark(move.target)["url"] == make_url(move.back).render_as_string(hide_password=True)
    assert _unmarked(_rows(move.back)) == _unmarked(_rows(move.target))
    status = run_cli(data_dir, "status", env={"PULLSTATS_DATABASE_URL": move.back})
    assert status.returncode == 0, status.stderr
    shown_back = make_url(move.back).render_as_string(hide_password=True)
    named = "the database of PULLSTATS_DATABASE_URL"
    if (data_dir / "catalog.sqlite3").exists():  # the old catalog, copied from
        named += " (the data dir's catalog.sqlite3 is another catalog)"
    assert _refused(data_dir, move.target_env, "status") in _refusal(
        named, shown_back, back_started
    ).split("|")


def test_a_copied_catalog_is_copied_again_only_when_asked_and_is_never_a_target(
    move: Move,
) -> None:
    data_dir = move.data_dir
    _installation(data_dir, move.source_env)
    started = _copied(move, move.source_env, move.target)
    mark = _mark(move.source)
    assert mark is not None, "the old catalog is not marked"

    # a copy back into the old catalog: refused, naming what it is
    assert _refused(data_dir, move.target_env, "db", "copy", "--to", move.source) == (
        f"error: {make_url(move.source).render_as_string(hide_password=True)} holds an old "
        f"catalog, copied to {move.shown} by `pullstats db copy` on "
        f"{datetime.fromisoformat(mark['at']):%Y-%m-%d %H:%M} UTC and refused by every command "
        "since: copy into a new, empty database (or drop that one, or move its SQLite file "
        "aside, first)"
    )
    assert _mark(move.source) == mark

    # the old catalog copied again: refused, unless --again (a move to redo)
    again = f"sqlite:///{data_dir.parent / 'again.sqlite3'}"
    assert _refused(data_dir, move.source_env, "db", "copy", "--to", again) == (
        f"error: the catalog was copied to {move.shown} by `pullstats db copy` on "
        f"{datetime.fromisoformat(mark['at']):%Y-%m-%d %H:%M} UTC already, and every command "
        "but this one refuses it since: a second copy would be another catalog of the "
        "installation's lake and exports store, without what was done on that one since. To "
        "redo the move (that copy dropped, or nothing run on it), copy again with --again"
    )
    again_started = _copied(move, move.source_env, again, "--again")
    assert started <= again_started
    assert _mark(again) is None  # the old mark is not copied either
    assert _mark(move.source)["url"] == again  # the mark names the latest copy
    status = run_cli(data_dir, "status", env={"PULLSTATS_DATABASE_URL": again})
    assert status.returncode == 0, status.stderr


def _exports(data_dir: Path) -> dict[str, bytes]:
    """Every file of the data dir's exports store, by path."""
    root = data_dir / "exports"
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


def test_a_job_left_on_the_old_catalog_deletes_none_of_the_copys_exports(move: Move) -> None:
    """The move's data loss: work goes on on the copy, and a job left without the setting runs
    `export` on the old catalog, which took the copy's export files for its own orphans."""
    data_dir = move.data_dir
    # moved in October, before the month closed
    _installation(data_dir, move.source_env, through="2026-10-11")
    _copied(move, move.source_env, move.target)
    for command in [
        ("ingest", "logs", str(LOG.parent / "nginx-pullstats.log")),
        ("process",),
        ("export", "--through", "2026-11-30"),  # October closed
    ]:
        result = run_cli(data_dir, *command, env=move.target_env)
        assert result.returncode == 0, (command, result.stderr)
    exports = _exports(data_dir)
    assert exports

    forgotten = run_cli(data_dir, "export", "--through", "2026-11-30", env=move.source_env)
    left = _exports(data_dir)
    lost = sorted(exports.keys() - left.keys())
    assert not lost, f"{len(lost)} of {len(exports)} files lost: {forgotten.stdout}"
    assert left == exports  # every file of the copy's catalog is there, as it was
    assert forgotten.returncode == 1 and forgotten.stderr.startswith("error: "), forgotten.stdout
    exported = run_cli(data_dir, "export", "--through", "2026-11-30", env=move.target_env)
    assert exported.returncode == 0, exported.stderr
    assert _exports(data_dir) == exports  # and up to date: nothing to write again


def test_a_catalog_copied_into_the_data_dirs_own_file_says_to_unset_the_setting(
    tmp_path: Path,
) -> None:
    # back to the embedded catalog (a catalog elsewhere copied into DATA_DIR/catalog.sqlite3):
    # both lines said to set PULLSTATS_DATABASE_URL to it, where the data dir's own catalog is
    # what an unset PULLSTATS_DATABASE_URL opens
    data_dir = tmp_path / "data"
    elsewhere = {"PULLSTATS_DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"}
    made = run_cli(
        data_dir, "users", "add", "alice", "--password-stdin", stdin=PASSWORD, env=elsewhere
    )
    assert made.returncode == 0, made.stderr
    own = f"sqlite:///{data_dir / 'catalog.sqlite3'}"
    copied = run_cli(data_dir, "db", "copy", "--to", own, env=elsewhere)
    assert copied.returncode == 0, copied.stderr
    assert (
        "namespaces); unset PULLSTATS_DATABASE_URL (the data dir's own catalog is its default) "
        "on every node, then start them"
    ) in " ".join(copied.stdout.split())
    refused = _refused(data_dir, elsewhere, "status")
    assert refused.endswith(
        "any more: unset PULLSTATS_DATABASE_URL (the data dir's own catalog is its default). "
        "Nothing was changed"
    ), refused


def test_a_new_database_beside_a_copied_sqlite_catalog_is_told_to_use_the_copy(
    tmp_path: Path,
) -> None:
    # the embedded catalog moved by `db copy`, then a mistyped PULLSTATS_DATABASE_URL naming
    # a new database: both lines said to `db copy` the data dir's catalog there, which the copy
    # refuses (the catalog was copied already), and to unset the setting, which opens a catalog
    # every command refuses; the copy is the one to name
    data_dir = tmp_path / "data"
    own = {"PULLSTATS_DATABASE_URL": f"sqlite:///{data_dir / 'catalog.sqlite3'}"}
    made = run_cli(data_dir, "users", "add", "alice", "--password-stdin", stdin=PASSWORD, env=own)
    assert made.returncode == 0, made.stderr
    moved = f"sqlite:///{tmp_path / 'moved.sqlite3'}"
    copied = run_cli(data_dir, "db", "copy", "--to", moved, env=own)
    assert copied.returncode == 0, copied.stderr
    mark = datetime.fromisoformat(_mark(own["PULLSTATS_DATABASE_URL"])["at"])
    advice = (
        f"the data dir's {data_dir / 'catalog.sqlite3'} was copied to {moved} by `pullstats db "
        f"copy` on {mark:%Y-%m-%d %H:%M} UTC; that copy is the installation's catalog now: set "
        "PULLSTATS_DATABASE_URL to that catalog"
    )
    typo = {"PULLSTATS_DATABASE_URL": f"sqlite:///{tmp_path / 'mistyped.sqlite3'}"}
    assert _refused(data_dir, typo, "status") == (
        f"error: the catalog database holds no pullstats catalog yet: {advice}"
    )
    # a command that only reads makes no empty file where the URL was mistyped
    assert not (tmp_path / "mistyped.sqlite3").exists()
    upgraded = run_cli(data_dir, "db", "upgrade", env=typo)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"note: this new catalog is not the installation's: {advice}" in " ".join(
        upgraded.stderr.split()
    )
    # and the advice works: the copy, named, is the installation with alice
    users = run_cli(data_dir, "users", "list", env={"PULLSTATS_DATABASE_URL": moved})
    assert users.returncode == 0 and "alice" in users.stdout, users.stderr


def test_a_relative_sqlite_target_is_named_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``db copy --to sqlite:///moved.sqlite3`` recorded the relative URL: a command run from
    another folder (cron's, systemd's) with that URL made an empty file there and was told to
    set PULLSTATS_DATABASE_URL to exactly what it had set. The copy is named by its absolute
    path, in the line printed and in the mark every refusal reads."""
    data_dir = tmp_path / "data"
    made = run_cli(data_dir, "users", "add", "alice", "--password-stdin", stdin=PASSWORD)
    assert made.returncode == 0, made.stderr
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(here)
    copied = run_cli(data_dir, "db", "copy", "--to", "sqlite:///moved.sqlite3")
    assert copied.returncode == 0, copied.stderr
    absolute = f"sqlite:///{here / 'moved.sqlite3'}"
    assert copied.stdout.startswith(f"copied the catalog to {absolute}:"), copied.stdout
    monkeypatch.chdir(elsewhere)
    refused = run_cli(data_dir, "users", "list")
    assert refused.returncode == 1
    assert f"was copied to {absolute} by `pullstats db copy`" in " ".join(refused.stderr.split())
    users = run_cli(data_dir, "users", "list", env={"PULLSTATS_DATABASE_URL": absolute})
    assert users.returncode == 0 and "alice" in users.stdout, users.stderr
    assert list(elsewhere.iterdir()) == []
