"""A new operator is never left guessing: every CLI error is one line that says what to do.

Bad settings name the variable, its value and what is expected; anything unexpected is one
line too, with the traceback only under ``--debug``; commands that only read create nothing;
bad input files get a clear message and a non-zero exit, and log lines are never echoed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pullstats.cli import reference
from tests.conftest import cli_env, free_port, run_cli, with_ctrl_c

ROOT = Path(__file__).resolve().parent.parent


def run_cli_with(
    data_dir: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """:func:`run_cli` with more ``PULLSTATS_*`` variables set."""
    return run_cli(data_dir, *args, env=env)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# --- settings and unexpected errors ----------------------------------------------------------


def test_a_bad_setting_is_one_line_naming_variable_value_and_expectation(data_dir: Path) -> None:
    duration = run_cli_with(data_dir, {"PULLSTATS_CLOSE_GRACE": "banana"}, "users", "list")
    assert one_error_line(duration) == (
        "error: PULLSTATS_CLOSE_GRACE='banana': expected a duration: ISO 8601 such as PT2H, "
        "PT15M, P7D or PT90S"
    )
    bounded = run_cli_with(data_dir, {"PULLSTATS_EXPORT_PART_BYTES": "10"}, "export")
    assert one_error_line(bounded) == (
        "error: PULLSTATS_EXPORT_PART_BYTES='10': input should be greater than or equal to 4096"
    )
    proxies = run_cli_with(data_dir, {"PULLSTATS_TRUSTED_PROXIES": "10.0.0.x"}, "serve")
    assert one_error_line(proxies) == (
        "error: PULLSTATS_TRUSTED_PROXIES='10.0.0.x': not an IP address or network: '10.0.0.x'"
    )
    assert not data_dir.exists()


def test_serve_refuses_a_memory_limit_duckdb_cannot_read_before_it_listens(
    data_dir: Path,
) -> None:
    # the scheduled jobs would each fail in a child; the server would serve on regardless
    env = {"PULLSTATS_DUCKDB_MEMORY_LIMIT": "lots"}
    result = run_cli_with(data_dir, env, "serve", "--port", str(free_port()))
    assert one_error_line(result) == (
        "error: PULLSTATS_DUCKDB_MEMORY_LIMIT='lots': DuckDB: Memory must have a number (e.g. 1GB)"
    )


def test_two_bad_settings_are_two_lines(data_dir: Path) -> None:
    result = run_cli_with(
        data_dir, {"PULLSTATS_ACCESS_LOG": "maybe", "PULLSTATS_DUCKDB_THREADS": "two"}, "process"
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert sorted(result.stderr.strip().splitlines()) == [
        "error: PULLSTATS_ACCESS_LOG='maybe': expected true or false",
        "error: PULLSTATS_DUCKDB_THREADS='two': expected a whole number",
    ]


def test_debug_shows_the_traceback(data_dir: Path) -> None:
    result = run_cli_with(data_dir, {"PULLSTATS_CLOSE_GRACE": "banana"}, "--debug", "users", "list")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "close_grace" in result.stderr


def test_an_unexpected_error_is_one_line_without_debug(data_dir: Path) -> None:
    # (a data dir that is a file is an expected error: tests/test_data_dir_errors.py)
    data_dir.mkdir()
    not_a_dir = data_dir / "spool"
    not_a_dir.write_text("a file where the spool should be")
    line = one_error_line(run_cli(data_dir, "users", "add", "alice"))
    assert line == (f"error: {not_a_dir}: File exists (pullstats --debug … shows the traceback)"), (
        line
    )
    debug = run_cli(data_dir, "--debug", "users", "add", "alice")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


# --- commands that only read create nothing ---------------------------------------------------

READ_ONLY = [
    ("users", "list"),
    ("namespaces", "list"),
    ("tokens", "list"),
    ("ingest-tokens", "list"),
    ("users", "disable", "alice"),
    ("members", "remove", "acme", "alice"),
    ("tokens", "revoke", "pat_0000"),
]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_commands_that_only_read_create_nothing(data_dir: Path, command: tuple[str, ...]) -> None:
    line = one_error_line(run_cli(data_dir, *command))
    assert line == (
        f"error: no pullstats data dir at {data_dir}: set PULLSTATS_DATA_DIR to the "
        "installation's data dir, or create one with `pullstats db upgrade`"
    )
    assert not data_dir.exists()


def _spawned_without(
    variable: str, data_dir: Path, cwd: Path, *command: str
) -> subprocess.CompletedProcess[str]:
    """``python -m pullstats COMMAND`` in ``cwd``, with ``data_dir``'s environment
    (``cli_env``) less ``variable``, as an operator's shell that lacks it runs it."""
    env = {k: v for k, v in cli_env(data_dir).items() if k != variable}
    return subprocess.run(
        [sys.executable, "-m", "pullstats", *command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("command", [("process",), ("export",)], ids=" ".join)
def test_the_jobs_refuse_a_data_dir_that_is_not_there(
    data_dir: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """A mistyped PULLSTATS_DATA_DIR (or cron's working directory, for the default) used to
    become a new empty installation, and the job "succeeded" on it at every run: exported 0."""
    line = one_error_line(run_cli(data_dir, *command))
    assert line == (
        f"error: no pullstats data dir at {data_dir}: set PULLSTATS_DATA_DIR to the "
        "installation's data dir, or create one with `pullstats db upgrade`"
    )
    assert not data_dir.exists()
    # no PULLSTATS_DATA_DIR: ./pullstats-data of the working directory, not made either
    done = _spawned_without("PULLSTATS_DATA_DIR", data_dir, tmp_path, *command)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"error: no pullstats data dir at {tmp_path / 'pullstats-data'}:")
    assert not (tmp_path / "pullstats-data").exists()


@pytest.mark.parametrize("command", [("status",), ("users", "list")], ids=" ".join)
def test_a_lake_without_its_catalog_asks_for_the_catalog_not_a_new_one(
    data_dir: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    """A node of a PostgreSQL catalog, run without PULLSTATS_DATABASE_URL (or a data dir that
    lost catalog.sqlite3): the read-only commands named `pullstats db upgrade`, which makes a
    new, empty SQLite catalog beside a lake that is another catalog's."""
    assert run_cli(data_dir, "namespaces", "add", "acme").returncode == 0
    (data_dir / "catalog.sqlite3").unlink(missing_ok=True)  # on SQLite: the catalog is lost
    done = _spawned_without("PULLSTATS_DATABASE_URL", data_dir, tmp_path, *command)
    assert done.returncode == 1 and done.stdout == ""
    line = one_error_line(done)
    assert line.startswith(f"error: no catalog at {data_dir / 'catalog.sqlite3'}, though ")
    assert "PULLSTATS_DATABASE_URL" in line and "db upgrade" not in line
    assert not (data_dir / "catalog.sqlite3").exists()


def test_list_commands_read_an_existing_installation(data_dir: Path) -> None:
    assert run_cli(data_dir, "namespaces", "add", "acme").returncode == 0
    listed = run_cli(data_dir, "namespaces", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split() == ["acme", "0", "-"]


def test_a_sqlite_catalog_that_cannot_be_used_is_named_with_what_to_do(
    data_dir: Path, tmp_path: Path
) -> None:
    """Before: the driver's text without the file (``DatabaseError: (sqlite3.DatabaseError)
    file is not a database (Background on this error at: …)``), or, for a folder, the advice
    for a database server ("run the command again once it answers")."""
    catalog = data_dir / "catalog.sqlite3"
    sqlite = {"PULLSTATS_DATABASE_URL": f"sqlite:///{catalog}"}  # in the PostgreSQL run too
    assert run_cli_with(data_dir, sqlite, "namespaces", "add", "acme").returncode == 0
    for leftover in data_dir.glob("catalog.sqlite3-*"):
        leftover.unlink()
    catalog.write_bytes(b"this is no database " * 512)
    damaged = one_error_line(run_cli_with(data_dir, sqlite, "namespaces", "list"))
    assert damaged == (
        f"error: the catalog database {catalog} is not an SQLite database (file is not a "
        "database): restore it from a backup, or point PULLSTATS_DATABASE_URL at the right file"
    )
    folder = tmp_path / "a-folder"
    folder.mkdir()
    env = {"PULLSTATS_DATABASE_URL": f"sqlite:///{folder}"}
    unopenable = one_error_line(run_cli_with(data_dir, env, "namespaces", "list"))
    assert unopenable.startswith(
        f"error: cannot open the catalog database {folder} (unable to open database file): "
    ), unopenable
    assert "PULLSTATS_DATABASE_URL" in unopenable and "once it answers" not in unopenable


def _postgres_url(**parts: Any) -> str:
    """The test server's URL with ``parts`` (``database``, ``username``) replaced."""
    from sqlalchemy.engine import make_url

    from tests.conftest import postgres_databases

    base = make_url(postgres_databases().base_url)  # skips without a PostgreSQL server
    return base.set(**parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


def test_a_catalog_url_naming_no_database_or_user_says_to_check_it(data_dir: Path) -> None:
    """Before, a database or user the server does not have was an outage: "nothing
    half-published, run the command again once it answers". Waiting will not mend a setting;
    the line says to check it, and never shows the URL."""
    data_dir.mkdir()
    check = "; check the host, database, user and password in PULLSTATS_DATABASE_URL"
    no_database = _postgres_url(database="pullstats_no_such_db")
    for command in (("status",), ("serve", "--port", str(free_port()))):
        line = one_error_line(
            run_cli_with(data_dir, {"PULLSTATS_DATABASE_URL": no_database}, *command)
        )
        assert line.startswith(
            "error: the catalog database (PULLSTATS_DATABASE_URL) cannot be used as set: "
        ), line
        assert line.endswith('FATAL: database "pullstats_no_such_db" does not exist' + check)
    no_role = _postgres_url(username="pullstats_no_such_role", password="s3cret")
    line = one_error_line(run_cli_with(data_dir, {"PULLSTATS_DATABASE_URL": no_role}, "status"))
    assert line.endswith('FATAL: role "pullstats_no_such_role" does not exist' + check), line
    assert "s3cret" not in line
    # a port, or an option, that libpq refuses before it connects: a setting too (an unknown
    # option was a ProgrammingError's bare type and text, a port out of range an outage)
    for url, said in (
        (_postgres_url(port="99999"), 'invalid port number: "99999"'),
        (_postgres_url(query={"foo": "bar"}), 'invalid connection option "foo"'),
        (_postgres_url(query={"sslmode": "bogus"}), 'invalid sslmode value: "bogus"'),
    ):
        line = one_error_line(run_cli_with(data_dir, {"PULLSTATS_DATABASE_URL": url}, "status"))
        assert line.endswith(said + check), line
    # psycopg2 is no driver pullstats installs: it was Python's ModuleNotFoundError
    psycopg2 = _postgres_url(drivername="postgresql+psycopg2")
    line = one_error_line(run_cli_with(data_dir, {"PULLSTATS_DATABASE_URL": psycopg2}, "status"))
    assert line == (
        "error: PULLSTATS_DATABASE_URL=(value not shown: it is a secret): the psycopg2 driver is "
        "not one pullstats installs: use postgresql+psycopg:// or postgresql://"
    )
    # a server that does not answer is an outage still: run the command again
    nobody = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    line = one_error_line(run_cli_with(data_dir, {"PULLSTATS_DATABASE_URL": nobody}, "status"))
    assert line.endswith(
        "Connection refused; nothing half-published, run the command again once it answers"
    ), line


@pytest.mark.parametrize(
    ("said", "wrong_setting"),
    [
        (
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: FATAL:  '
            'password authentication failed for user "pullstats"',
            True,
        ),
        (
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: '
            "fe_sendauth: no password supplied",
            True,
        ),
        (
            'connection failed: connection to server at "10.0.0.5", port 5432 failed: FATAL:  no '
            'pg_hba.conf entry for host "10.0.0.9", user "pullstats", database "pullstats", no '
            "encryption",
            True,
        ),
        ("failed to resolve host 'db.example': [Errno -2] Name or service not known", True),
        (
            "failed to resolve host 'db.example': [Errno -3] Temporary failure in name resolution",
            False,
        ),
        ("consuming input failed: server closed the connection unexpectedly", False),
    ],
)
def test_what_the_catalog_server_says_decides_between_check_and_retry(
    said: str, wrong_setting: bool
) -> None:
    """Texts psycopg gives (libpq's and the resolver's), where this machine's server, which
    trusts every local user, cannot be made to say them."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    from pullstats.cli.common import error_lines

    [line] = error_lines(OperationalError("SELECT 1", {}, psycopg.OperationalError(said)))
    assert " ".join(said.split()) in line
    assert (
        line.endswith("check the host, database, user and password in PULLSTATS_DATABASE_URL")
        is wrong_setting
    )
    assert line.endswith("run the command again once it answers") is not wrong_setting


# --- input files --------------------------------------------------------------------------------


def test_ingest_logs_refuses_a_binary_file_and_echoes_nothing(
    data_dir: Path, tmp_path: Path
) -> None:
    binary = tmp_path / "image.log"
    # a PNG signature, NULs and bytes that are not UTF-8; a token sits in the middle
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\nsecret-token-1234\n\xff")
    result = run_cli(data_dir, "ingest", "logs", str(binary))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"error: {binary}: not an access log: no line is in the combined or pullstats format "
        "(see docs/access-logs.md)"
    )
    assert "secret-token-1234" not in result.stdout + result.stderr
    assert "\ufffd" not in result.stdout and "\x00" not in result.stdout
    assert f"{binary}: unparseable at lines 1, 2" in result.stdout


def test_ingest_logs_counts_bad_lines_by_number_never_by_text(
    data_dir: Path, tmp_path: Path
) -> None:
    good = (
        '203.0.113.7 - - [05/Oct/2026:14:44:26 +0200] "GET /v2/acme/app/manifests/1.0 HTTP/1.1" '
        '200 0 "-" "docker/27.3.1"\n'
    )
    leaky = "GET /v2/token?access_token=ghp_SECRET0123456789 oops\n"
    log = tmp_path / "access.log"
    log.write_text(good + leaky * 7 + good)
    result = run_cli(data_dir, "ingest", "logs", str(log))
    assert result.returncode == 0, result.stderr
    assert "ghp_SECRET" not in result.stdout + result.stderr
    assert result.stdout.splitlines()[:2] == [
        f"{log}: 9 lines read, 2 used, 7 skipped (unparseable 7)",
        f"{log}: unparseable at lines 2, 3, 4, 5, 6 and 2 more",
    ]


def test_ingest_logs_on_a_directory_says_so(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    assert one_error_line(run_cli(data_dir, "ingest", "logs", str(folder))) == (
        f"error: {folder}: a directory; name the log files in it"
    )
    missing = one_error_line(run_cli(data_dir, "ingest", "logs", str(tmp_path / "typo.log")))
    assert missing == f"error: {tmp_path / 'typo.log'}: no such file"
    assert not data_dir.exists()  # a wrong name creates no installation


def test_a_file_name_cannot_break_the_error_line_or_colour_it(
    data_dir: Path, tmp_path: Path
) -> None:
    # before, a newline in the name split the line in two and ESC [31m turned the terminal red;
    # U+202E would have shown the rest of the line reversed
    name = str(tmp_path / "no\nsuch\x1b[31m\u202egol.log")
    result = run_cli(data_dir, "ingest", "logs", name)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: {tmp_path}/no\\x0asuch\\x1b[31m\\u202egol.log: no such file\n"
    )
    # a backslash and an emoji's zero-width joiner are shown as they are
    shown = str(tmp_path / "C:\\logs\\👩\u200d💻.log")
    result = run_cli(data_dir, "ingest", "logs", shown)
    assert result.stderr == f"error: {shown}: no such file\n"


def test_export_through_a_day_no_period_closes_by_is_one_line(data_dir: Path) -> None:
    # 0001-01-01 failed in the retention's date arithmetic, 9999-12-31 at the day's end
    for day in ("0001-01-01", "1999-12-31", "9999-12-31"):
        assert one_error_line(run_cli(data_dir, "export", "--through", day)) == (
            f"error: --through: '{day}' is not a day periods can close by: give one from "
            "2000-01-01 to 9999-12-30"
        )
    assert not data_dir.exists()


def test_import_dockerhub_csv_of_a_text_file_is_a_whole_sentence(
    data_dir: Path, tmp_path: Path
) -> None:
    readme = ROOT / "README.md"
    result = run_cli(data_dir, "import", "dockerhub-csv", str(readme))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{readme}: error: not a CSV file: no comma-separated header row could be read "
        "(expected a Docker Hub DVP CSV export, see docs/dockerhub-import.md)",
        "error: 1 of 1 files could not be imported",
    ]


def test_import_dockerhub_csv_shows_a_bad_cell_without_its_control_characters(
    data_dir: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "hub_raw.csv"
    header = (ROOT / "tests/fixtures/dockerhub/hub_raw_2026-W02.csv").read_text().splitlines()[0]
    # a timestamp cell that clears the screen and colours what follows, were it printed raw
    cell = "\x1b[2J\x1b[31mnow"
    raw.write_text(
        f"{header}\n{cell},acme,api,1.0,sha256:aaa,1.0,2026-01-07,GET,pull_by_tag,,,,,docker,1,acme\n"
    )
    result = run_cli(data_dir, "import", "dockerhub-csv", str(raw))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout + result.stderr
    assert f"{raw}:2: skipped (bad_timestamp): \\x1b[2J\\x1b[31mnow" in result.stderr


def test_export_of_an_unknown_namespace_fails(data_dir: Path) -> None:
    assert run_cli(data_dir, "namespaces", "add", "acme").returncode == 0
    assert one_error_line(run_cli(data_dir, "export", "--namespace", "nope")) == (
        "error: no namespace 'nope'"
    )
    assert run_cli(data_dir, "export", "--namespace", "acme").returncode == 0


# --- help -------------------------------------------------------------------------------------

#: A Python type where a metavar belongs, as Typer prints it: <bool>, <str>, <list[str]>, …
_PLACEHOLDER = re.compile(r"<[a-z][a-z_ \[\]|,]*>")


def test_no_help_in_the_command_tree_shows_a_type_placeholder() -> None:
    pages = list(reference.help_pages())
    assert len(pages) > 30
    shown = {path: _PLACEHOLDER.findall(text) for path, text in pages}
    assert not {path: found for path, found in shown.items() if found}


@pytest.mark.parametrize(
    "command", [("tokens", "create"), ("ingest", "logs"), ("users", "add")], ids=" ".join
)
def test_the_real_help_is_the_reference_page(data_dir: Path, command: tuple[str, ...]) -> None:
    """What a terminal shows is what docs/cli.md shows, so the check above covers both."""
    result = run_cli(data_dir, *command, "--help")
    assert result.returncode == 0, result.stderr
    assert not _PLACEHOLDER.findall(result.stdout)
    assert "--help  " in result.stdout and "<bool>" not in result.stdout
    expected = dict(reference.help_pages())["pullstats " + " ".join(command)]
    assert "".join(result.stdout.split()) == "".join(expected.split())  # any terminal width


def test_ctrl_c_during_a_duckdb_query_is_one_line_and_exit_130() -> None:
    import threading

    import duckdb

    from pullstats.cli.common import error_lines

    connection = duckdb.connect()
    done = threading.Event()

    def interrupt() -> None:  # until the query has started and stopped
        while not done.wait(0.05):
            connection.interrupt()

    threading.Thread(target=interrupt, daemon=True).start()
    try:
        with pytest.raises(duckdb.InterruptException) as interrupted:
            connection.execute("SELECT sum(hash(i)) FROM range(1000000000000) t(i)").fetchall()
    finally:
        done.set()
        connection.close()
    assert error_lines(interrupted.value) == [
        "interrupted: run the command again to finish (what it wrote is not counted twice)"
    ]


# A Ctrl-C that lands while pydantic-core builds a model's schema, as a module loads, comes out
# of it as a SchemaError that only names the KeyboardInterrupt (unchained). A literal whose
# repr is interrupted makes the same error on purpose.
_SCHEMA_BUILD_INTERRUPTED = """
import pydantic_core
from pydantic_core import core_schema


class Interrupted:
    def __repr__(self):
        raise KeyboardInterrupt


def schema_error():
    try:
        pydantic_core.SchemaSerializer(core_schema.literal_schema([Interrupted(), "a"]))
    except pydantic_core.SchemaError as error:
        return error
    raise AssertionError("pydantic-core built the schema")
"""


def test_ctrl_c_while_pydantic_builds_a_schema_is_the_interrupted_line() -> None:
    from pullstats.cli.common import error_lines

    space: dict[str, object] = {}
    exec(_SCHEMA_BUILD_INTERRUPTED, space)
    error = space["schema_error"]()  # type: ignore[operator]
    assert "KeyboardInterrupt" in str(error)
    assert error_lines(error) == [
        "interrupted: run the command again to finish (what it wrote is not counted twice)"
    ]


def _run_with_an_import_failing(
    tmp_path: Path, source: str, error: str, module: str, entry: str, function: str
) -> subprocess.CompletedProcess[str]:
    """``pullstats status`` started by ``entry.function()`` in a child whose import of
    ``module`` raises what ``error()`` (defined by ``source``) returns, as a Ctrl-C there
    would make it."""
    script = (
        source
        + f"""
import sys


class InterruptedImport:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            raise {error}()
        return None


sys.meta_path.insert(0, InterruptedImport())
sys.argv = ["pullstats", "status"]
from {entry} import {function}

{function}()
"""
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        env=cli_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ctrl_c_while_the_command_tree_loads_exits_130_without_a_traceback(
    tmp_path: Path,
) -> None:
    # the command's module fails to import with that SchemaError, as the signal would make it
    result = _run_with_an_import_failing(
        tmp_path,
        _SCHEMA_BUILD_INTERRUPTED,
        "schema_error",
        "pullstats.cli.jobs",
        "pullstats.cli.main",
        "run",
    )
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    assert " ".join(result.stderr.split()) == (
        "error: interrupted: run the command again to finish (what it wrote is not counted twice)"
    )


#: Python's own error for a Ctrl-C while a class is made (a dataclass's fields, rich's Task
#: as pullstats.cli.main loads): on Python 3.11, a RuntimeError caused by the KeyboardInterrupt
_CLASS_MADE_INTERRUPTED = """
def class_error():
    class Interrupted:
        def __set_name__(self, owner, name):
            raise KeyboardInterrupt

    try:
        class Task:
            fields = Interrupted()
    except BaseException as error:
        return error
    raise AssertionError("the class was made")
"""


def _class_error() -> BaseException:
    space: dict[str, object] = {}
    exec(_CLASS_MADE_INTERRUPTED, space)
    error = space["class_error"]()  # type: ignore[operator]
    assert isinstance(error, BaseException)
    if not isinstance(error.__cause__, KeyboardInterrupt):
        pytest.skip(f"this Python does not wrap it: {error!r}")
    return error


def test_ctrl_c_while_a_class_is_made_is_the_interrupted_line() -> None:
    from pullstats.cli.common import error_lines

    assert error_lines(_class_error()) == [
        "interrupted: run the command again to finish (what it wrote is not counted twice)"
    ]


def test_ctrl_c_while_the_entry_loads_the_command_line_exits_130_quietly(tmp_path: Path) -> None:
    # the fresh clone's run met it once: the signal came while rich's Task class was made
    _class_error()
    result = _run_with_an_import_failing(
        tmp_path,
        _CLASS_MADE_INTERRUPTED,
        "class_error",
        "pullstats.cli.main",
        "pullstats.entry",
        "main",
    )
    assert (result.returncode, result.stderr) == (130, "")


def test_an_unexpected_error_is_one_line_of_bounded_length(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)  # no spark-submit's JVM
    from pullstats.cli.common import error_lines

    class Py4JJavaError(Exception):  # what PySpark raises: the JVM's whole stack trace
        pass

    frames = "".join(f"\n\tat org.apache.spark.Frame{n}.call(Frame.java:{n})" for n in range(400))
    [line] = error_lines(Py4JJavaError("An error occurred while calling o60.parquet." + frames))
    assert line.startswith("Py4JJavaError: An error occurred while calling o60.parquet. at org.")
    assert len(line) < 600 and line.endswith(" … (pullstats --debug … shows the traceback)")
    no_s3a = Py4JJavaError(
        "An error occurred while calling o60.parquet. : java.lang.RuntimeException: "
        "java.lang.ClassNotFoundException: Class org.apache.hadoop.fs.s3a.S3AFileSystem not "
        "found" + frames
    )
    # a JVM this command started: `pullstats process` has no --packages (docs/spark.md)
    assert error_lines(no_s3a) == [
        "PULLSTATS_ENGINE=spark: this Spark cannot read the lake on S3: its classpath has no "
        "hadoop-aws (org.apache.hadoop.fs.s3a.S3AFileSystem); add the line 'spark.jars.packages "
        "org.apache.hadoop:hadoop-aws:<its Hadoop version>' to spark-defaults.conf in "
        "SPARK_CONF_DIR (docs/spark.md)"
    ]


def test_ctrl_c_while_a_command_loads_ends_it_without_a_traceback(tmp_path: Path) -> None:
    # a Ctrl-C in the first half second, while the modules load, printed their traceback
    import signal
    import time

    for delay in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4):
        child = subprocess.Popen(
            [sys.executable, "-m", "pullstats", "status"],
            env=cli_env(tmp_path / "data"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=with_ctrl_c,
        )
        time.sleep(delay)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
        # on a busy machine the signal may come while Python itself starts (its site
        # modules), which no code of ours can catch: no traceback through our modules, then
        assert "Traceback" not in stderr or "src/pullstats/" not in stderr, (delay, stderr)
        # 130 from Python; -2 when the signal came before Python took it over; 1 or 0 when
        # the command was over (no data dir)
        assert child.returncode in (130, -signal.SIGINT, 0, 1), (delay, child.returncode)


def test_a_full_disk_under_duckdb_is_the_file_and_what_to_do() -> None:
    # /dev/full: every write fails as on a full disk (ENOSPC); DuckDB wraps the system's words
    # in a JSON object of its own, offsets and errno included
    import duckdb

    from pullstats.cli.common import error_lines

    with duckdb.connect() as database, pytest.raises(duckdb.IOException) as full:
        database.execute("COPY (SELECT range AS n FROM range(1000)) TO '/dev/full' (FORMAT csv)")
    assert '"errno"' in str(full.value)  # what the line used to show, as DuckDB said it
    assert error_lines(full.value) == [
        'Could not write file "/dev/full": No space left on device: free space on its disk, '
        "then run the command again"
    ]
    with duckdb.connect() as database, pytest.raises(duckdb.IOException) as missing:
        database.execute("COPY (SELECT 1) TO '/nonexistent/folder/x.parquet' (FORMAT parquet)")
    assert error_lines(missing.value) == [
        'Cannot open file "/nonexistent/folder/x.parquet": No such file or directory '
        "(pullstats --debug … shows the traceback)"
    ]
