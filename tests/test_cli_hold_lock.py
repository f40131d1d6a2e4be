"""``pullstats hold-job-lock -- CMD``: a command of the operator's (a backup) run under the
installation's job lock, on either catalog. While it runs, ``process`` waits for it, on SQLite
(an flock on jobs.lock) as on PostgreSQL (an advisory lock in the catalog database, which an
flock on jobs.lock does not touch); it waits for a job that holds the lock as the jobs do; and it
runs CMD as a shell would: CMD's environment, output and exit status, 127 for one not found."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from pullstats.config import Settings
from pullstats.lake.jobs import ADVISORY_KEY, job_lock
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, cli_env, fresh_postgres_url, run_cli
from tests.test_cli_jobs import _wait_for_notice

#: a child that says it runs (its pid in ``started``), then waits for ``release`` and exits 7
WAITING_CHILD = "echo $$ > started; while [ ! -e release ]; do sleep 0.02; done; exit 7"


def _installation(data: Path, catalog: str) -> tuple[Runtime, dict[str, str]]:
    """A new installation in ``data`` on ``catalog`` ("sqlite" in the data dir, or a fresh
    PostgreSQL database), and the environment of a command run on it."""
    if catalog == "sqlite":
        runtime = Runtime.open(Settings(data_dir=data))
        env = cli_env(data)
        env.pop("PULLSTATS_DATABASE_URL", None)
    else:
        url = fresh_postgres_url()
        runtime = Runtime.open(Settings(data_dir=data, database_url=url))
        env = cli_env(data, {"PULLSTATS_DATABASE_URL": url})
    return runtime, env


def _start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """``python -m pullstats ARGS``, left running (its command line is the one /proc shows), in
    a process group of its own: the ``guard`` ends it with the command it runs."""
    return subprocess.Popen(
        [sys.executable, "-m", "pullstats", *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.fixture
def guard() -> Iterator[list[subprocess.Popen[str]]]:
    """The processes a test starts (with :func:`_start`), their groups killed if it hangs (no
    assertion on time: only an end to a hang) and at its end: a command left running would
    hold the pipes open."""
    started: list[subprocess.Popen[str]] = []

    def kill_all() -> None:
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    timer = threading.Timer(180, kill_all)
    timer.start()
    try:
        yield started
    finally:
        timer.cancel()
        kill_all()
        for process in started:
            process.communicate()


def _wait_for_file(path: Path, process: subprocess.Popen[str]) -> None:
    """Wait until ``path`` exists; fail if ``process`` ends first."""
    while not path.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"ended with {process.returncode}: {out!r} {err!r}")
        time.sleep(0.02)


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs (is there and is no zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _advisory_lock_holders(runtime: Runtime) -> list[int]:
    """The PostgreSQL sessions that hold the job lock's advisory lock in the catalog."""
    with runtime.engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                    "database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": ADVISORY_KEY},
            ).scalars()
        )


@pytest.mark.parametrize("catalog", ["sqlite", "postgresql"])
def test_process_waits_while_the_held_command_runs(
    tmp_path: Path, catalog: str, guard: list[subprocess.Popen[str]]
) -> None:
    data = tmp_path / "data"
    runtime, env = _installation(data, catalog)
    try:
        holder = _start(["hold-job-lock", "--", "sh", "-c", WAITING_CHILD], env, tmp_path)
        guard.append(holder)
        _wait_for_file(tmp_path / "started", holder)
        child = int((tmp_path / "started").read_text())
        if catalog == "postgresql":  # the lock is the catalog's, not the file's
            assert len(_advisory_lock_holders(runtime)) == 1
        job = _start(["process"], env, tmp_path)
        guard.append(job)
        notice = _wait_for_notice(job)
        if catalog == "sqlite":
            assert notice.startswith(
                f"waiting for the job lock ({data / 'jobs.lock'}, held by pid {holder.pid}: "
                "pullstats hold-job-lock -- sh -c "
            )
        else:
            assert notice.startswith(
                "waiting for the job lock (in the catalog database, held by PostgreSQL session "
            )
        # process waits as long as the child runs: both still there, the child unreleased
        assert _running(child)
        assert job.poll() is None
        assert holder.poll() is None
        (tmp_path / "release").touch()
        held_out, held_err = holder.communicate()
        assert holder.returncode == 7, held_err  # the child's status
        assert (held_out, held_err) == ("", "")  # it says nothing of its own
        assert not _running(child)
        output, errors = job.communicate()
        assert job.returncode == 0, errors
        assert output.startswith("processed 0 spool lines")
        if catalog == "postgresql":
            assert _advisory_lock_holders(runtime) == []  # let go with the child's end
    finally:
        runtime.close()


@pytest.mark.parametrize("catalog", ["sqlite", "postgresql"])
def test_it_waits_for_a_job_that_holds_the_lock_and_says_so(
    tmp_path: Path, catalog: str, guard: list[subprocess.Popen[str]]
) -> None:
    data = tmp_path / "data"
    runtime, env = _installation(data, catalog)
    try:
        with job_lock(runtime):  # a job of this process's holds it
            holder = _start(["hold-job-lock", "touch", "ran"], env, tmp_path)
            guard.append(holder)
            notice = _wait_for_notice(holder)
            assert notice.endswith("; up to 10 min)")
            assert holder.poll() is None
            assert not (tmp_path / "ran").exists()  # nothing run without the lock
        output, errors = holder.communicate()
        assert (holder.returncode, output, errors) == (0, "", "")
        assert (tmp_path / "ran").exists()
    finally:
        runtime.close()


def test_the_command_gets_the_environment_and_gives_its_output_and_status(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    Runtime.open(catalog_settings(data)).close()
    script = (
        "import json, os, sys; json.dump(dict(os.environ), sys.stdout); "
        "print('to stderr', file=sys.stderr); sys.exit(int(sys.argv[1]))"
    )
    extra = {"A_VARIABLE": "x y"}
    done = run_cli(data, "hold-job-lock", "--", sys.executable, "-c", script, "3", env=extra)
    assert done.returncode == 3
    assert json.loads(done.stdout) == cli_env(data, extra)  # as the command was given it
    assert done.stderr == "to stderr\n"


def test_the_command_s_own_options_need_no_double_dash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Runtime.open(catalog_settings(data)).close()
    done = run_cli(data, "hold-job-lock", "sh", "-c", "echo $0 $1; exit 4", "--help", "-x")
    assert (done.returncode, done.stdout, done.stderr) == (4, "--help -x\n", "")


@pytest.mark.parametrize(
    ("command", "status", "line"),
    [
        (
            "no-such-command-hold",
            127,
            "error: no-such-command-hold: command not found (PATH={path}): nothing was run",
        ),
        ("./missing", 127, "error: ./missing: no such file: nothing was run"),
        ("./plain.txt", 126, "error: ./plain.txt: not an executable file: nothing was run"),
    ],
)
def test_a_command_that_cannot_run_is_one_line_and_a_shell_s_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, status: int, line: str
) -> None:
    data = tmp_path / "data"
    Runtime.open(catalog_settings(data)).close()
    (tmp_path / "plain.txt").write_text("echo hi\n")
    monkeypatch.chdir(tmp_path)  # the command runs in the test's working directory
    done = run_cli(data, "hold-job-lock", "--", command)
    assert done.returncode == status
    assert done.stdout == ""
    assert done.stderr == line.format(path=cli_env(data)["PATH"]) + "\n"


def test_without_an_installation_nothing_runs(tmp_path: Path) -> None:
    data = tmp_path / "nowhere"
    done = run_cli(data, "hold-job-lock", "--", "touch", str(tmp_path / "ran"))
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: no pullstats data dir at {data}: ")
    assert len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "ran").exists()
    assert not data.exists()


def test_a_sigterm_goes_on_to_the_command_which_ends_first(
    tmp_path: Path, guard: list[subprocess.Popen[str]]
) -> None:
    """Stopped with SIGTERM (systemd, kill), it passes the signal on and waits for the
    command's end: the lock is not let go while the backup still copies."""
    data = tmp_path / "data"
    Runtime.open(catalog_settings(data)).close()
    env = cli_env(data)
    child = 'trap "touch termed; exit 5" TERM; touch started; while :; do sleep 0.02; done'
    holder = _start(["hold-job-lock", "sh", "-c", child], env, tmp_path)
    guard.append(holder)
    _wait_for_file(tmp_path / "started", holder)
    holder.send_signal(signal.SIGTERM)
    _, errors = holder.communicate()
    assert holder.returncode == 5, errors  # the command's status, after its own trap ran
    assert (tmp_path / "termed").exists()


def test_a_lock_lost_while_the_command_ran_is_an_error_whatever_its_status(
    tmp_path: Path, guard: list[subprocess.Popen[str]]
) -> None:
    """PostgreSQL: the session that held the advisory lock ended while the command ran (a
    restart, a DBA's pg_terminate_backend): the backup it took may not be consistent, so the
    command's status 0 is not the answer."""
    data = tmp_path / "data"
    runtime, env = _installation(data, "postgresql")
    try:
        child = "touch started; while [ ! -e release ]; do sleep 0.02; done"
        holder = _start(["hold-job-lock", "sh", "-c", child], env, tmp_path)
        guard.append(holder)
        _wait_for_file(tmp_path / "started", holder)
        [session] = _advisory_lock_holders(runtime)
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": session})
        while _advisory_lock_holders(runtime):  # the session is gone, not only told to go
            time.sleep(0.02)
        (tmp_path / "release").touch()
        output, errors = holder.communicate()
        assert holder.returncode == 1
        assert output == ""
        assert errors == (
            "error: the connection to the catalog database (PULLSTATS_DATABASE_URL) that held "
            "the job lock broke while the job ran: run the job again\n"
        )
    finally:
        runtime.close()
