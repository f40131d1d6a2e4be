"""The ``pullstats`` command in a child process, forked from a process that has imported it.

Every test that runs the real command line pays Python's start and pullstats' imports (most of
a simple command's second, 1.4 s for ``serve``) again; a suite runs the command hundreds of
times and starts a hundred servers. A *fork server* pays them once per test worker: a plain
child process imports ``pullstats.cli.main`` and the server's modules, and then, for each
command, forks a child that takes the command's environment, working directory, standard input
and output files, and runs what ``python -m pullstats`` runs (``cli.main.run``). The command
still runs in a process of its own, with its own exit status and signals; only the imports are
shared. A command is either *run* (the fork server waits for it and answers its status) or
*started* (it answers the child's pid at once: a server, stopped by a signal, whose status the
test asks for with *poll*). ``PULLSTATS_TEST_SPAWN_CLI=1`` spawns ``python -m pullstats`` for
every command instead, the way an operator's shell does.

The fork server is single-threaded and never runs a command itself, so every fork starts from
the same freshly imported state: imports and the bundled address tables only, no threads,
no open connections.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPAWN = os.environ.get("PULLSTATS_TEST_SPAWN_CLI") == "1"


def _exit_code(code: Any) -> int:
    """The status ``sys.exit(code)`` gives a Python process."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _run_child(request: dict[str, Any]) -> None:
    """In the forked child: become the command, run it, and leave with its status."""
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path, mode in (
            (0, request["stdin"], os.O_RDONLY),
            (1, request["stdout"], os.O_WRONLY | os.O_APPEND),
            (2, request["stderr"], os.O_WRONLY | os.O_APPEND),
        ):
            opened = os.open(path, mode)
            os.dup2(opened, fd)
            os.close(opened)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.argv = ["pullstats", *request["args"]]
        from pullstats.cli.main import run

        try:
            run()  # what the installed script and `python -m pullstats` run
            code = 0
        except SystemExit as exit_:
            code = _exit_code(exit_.code)
        except BaseException:
            traceback.print_exc()
            code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                code = code or 1
        os._exit(code)


#: what every command imports, and what ``serve`` and a new data dir's catalog import on top:
#: imported once here, before any fork (leaving one out costs time, never correctness)
PRELOAD = (
    "pullstats.cli.main",
    "pullstats.pipeline",
    "pullstats.exports.closing",
    "pullstats.importers.log_import",
    "pullstats.importers.dockerhub_csv",
    "pullstats.client",
    "pullstats.api.app",
    "pullstats.api.http_protocol",
    "uvicorn",
    "uvicorn.lifespan.on",
    "uvicorn.loops.auto",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.websockets.auto",
    "alembic.command",
    "alembic.config",
    "alembic.runtime.migration",
    "sqlite3",
    "sqlalchemy.dialects.sqlite",
    "anyio._backends._asyncio",
    "concurrent.futures.thread",
)


def _preload() -> None:
    # imported as a command imports them, with pandas kept out (cli.main.arrow_without_pandas:
    # pyarrow would import it for the module-level arrays of the classification); the block
    # goes again after, and each command's run() sets it up for its own engine
    from pullstats.cli.main import arrow_without_pandas

    before = list(sys.meta_path)
    arrow_without_pandas({})
    block = [finder for finder in sys.meta_path if finder not in before]
    try:
        for name in PRELOAD:
            importlib.import_module(name)
    finally:
        # only the block: what the imports added (six's importer of six.moves …) stays
        for finder in block:
            sys.meta_path.remove(finder)
    # the bundled address tables, which every `process` with new addresses loads (about 0.4 s
    # of unpickling and building): loaded once here, the same tables, before any fork
    from pullstats.enrich.bundled import asn_organisations, cloud_ranges

    asn_organisations()
    cloud_ranges()


def _reap(pid: int) -> int | None:
    """The exit status of a started child that has ended, or None while it runs."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if done else None


def serve() -> None:
    """The fork server's loop: one JSON request a line on stdin, one JSON reply a line on stdout.

    ``{"op": "run", ...}`` answers the command's status once it has ended, ``{"op": "start",
    ...}`` the started child's pid at once, and ``{"op": "poll", "pid": N}`` a started child's
    status, or null while it runs. Started children still running when the tests close the
    fork server's input are killed.
    """
    _preload()
    started: dict[int, int | None] = {}
    replies = sys.stdout.buffer
    try:
        for line in sys.stdin.buffer:
            request = json.loads(line)
            reply: Any
            if request["op"] == "poll":
                pid = request["pid"]
                if started.get(pid) is None:
                    started[pid] = _reap(pid)
                reply = started[pid]
            else:
                replies.flush()
                pid = os.fork()
                if pid == 0:
                    _run_child(request)
                if request["op"] == "start":
                    started[pid] = None
                    reply = pid
                else:
                    _, status = os.waitpid(pid, 0)
                    reply = os.waitstatus_to_exitcode(status)
            replies.write(json.dumps(reply).encode() + b"\n")
            replies.flush()
    finally:
        for child, ended in started.items():
            if ended is None and _reap(child) is None:
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)


class _ForkServer:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from tests.cli_fork import serve; serve()"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._asking = threading.Lock()
        atexit.register(self.close)

    def ask(self, request: dict[str, Any]) -> Any:
        """Send ``request`` and wait for its reply: one request at a time, whichever thread
        asks (a test's fixture may start a server in a thread while the test runs a command;
        two requests in flight would each read the other's reply, or wait for ever)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        with self._asking:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            reply = self.process.stdout.readline()
        if not reply:
            raise RuntimeError("the pullstats fork server died")
        return json.loads(reply)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=30)


_server: _ForkServer | None = None
_starting = threading.Lock()


def _fork_server() -> _ForkServer:
    global _server
    with _starting:
        if _server is None or _server.process.poll() is not None:
            _server = _ForkServer()
        return _server


class ForkedProcess:
    """A started command: the parts of :class:`subprocess.Popen` the tests use on a server."""

    def __init__(self, server: _ForkServer, pid: int) -> None:
        self._server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._server.ask({"op": "poll", "pid": self.pid})
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["pullstats"], timeout or 0)
            time.sleep(0.02)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def start_pullstats_command(
    args: list[str], env: dict[str, str], output: Path
) -> subprocess.Popen[bytes] | ForkedProcess:
    """``python -m pullstats ARGS`` with ``env``, left running, its output added to ``output``."""
    if SPAWN:
        with open(output, "ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "pullstats", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    server = _fork_server()
    output.touch()
    pid = server.ask(
        {
            "op": "start",
            "args": list(args),
            "env": env,
            "cwd": os.getcwd(),
            "stdin": os.devnull,
            "stdout": str(output),
            "stderr": str(output),
        }
    )
    return ForkedProcess(server, pid)


def run_pullstats_command(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m pullstats ARGS`` with ``env``: its status, standard output and error."""
    if SPAWN:
        return subprocess.run(
            [sys.executable, "-m", "pullstats", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
    server = _fork_server()
    with tempfile.TemporaryDirectory(prefix="pullstats-cli-") as scratch:
        files = {name: Path(scratch) / name for name in ("stdin", "stdout", "stderr")}
        files["stdin"].write_text(stdin or "", encoding="utf-8")
        files["stdout"].touch()
        files["stderr"].touch()
        code = server.ask(
            {
                "op": "run",
                "args": list(args),
                "env": env,
                "cwd": os.getcwd(),
                **{name: str(path) for name, path in files.items()},
            }
        )
        return subprocess.CompletedProcess(
            [sys.executable, "-m", "pullstats", *args],
            code,
            files["stdout"].read_text(encoding="utf-8"),
            files["stderr"].read_text(encoding="utf-8"),
        )
