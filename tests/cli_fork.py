"""The ``pullstats`` command in a child process, forked from a process that has imported it.

Every test that runs the real command line pays Python's start and pullstats' imports (most of
a simple command's second) again; a suite runs the command hundreds of times. A *fork server*
pays them once per test worker: a plain child process imports ``pullstats.cli.main`` and then,
for each command, forks a child that takes the command's environment, working directory,
standard input and output files, and runs the same ``app`` that ``python -m pullstats`` runs.
The command still runs in a process of its own, with its own exit status; only the imports
are shared. ``PULLSTATS_TEST_SPAWN_CLI=1`` spawns ``python -m pullstats`` for every command
instead, the way an operator's shell does.

The fork server is single-threaded and never runs a command itself, so every fork starts from
the same freshly imported state.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
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
            (1, request["stdout"], os.O_WRONLY),
            (2, request["stderr"], os.O_WRONLY),
        ):
            opened = os.open(path, mode)
            os.dup2(opened, fd)
            os.close(opened)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.argv = ["pullstats", *request["args"]]
        from pullstats.cli.main import app

        try:
            app(prog_name="pullstats")
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


def serve() -> None:
    """The fork server's loop: one JSON request a line on stdin, one status a line on stdout."""
    import pullstats.cli.main  # noqa: F401  (the point: imported once, before any fork)

    requests = sys.stdin.buffer
    replies = sys.stdout.buffer
    for line in requests:
        request = json.loads(line)
        replies.flush()
        pid = os.fork()
        if pid == 0:
            _run_child(request)
        _, status = os.waitpid(pid, 0)
        replies.write(b"%d\n" % os.waitstatus_to_exitcode(status))
        replies.flush()


class _ForkServer:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from tests.cli_fork import serve; serve()"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        atexit.register(self.close)

    def run(self, request: dict[str, Any]) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        if not reply:
            raise RuntimeError("the pullstats fork server died")
        return int(reply)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=30)


_server: _ForkServer | None = None


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
    global _server
    if _server is None or _server.process.poll() is not None:
        _server = _ForkServer()
    with tempfile.TemporaryDirectory(prefix="pullstats-cli-") as scratch:
        files = {name: Path(scratch) / name for name in ("stdin", "stdout", "stderr")}
        files["stdin"].write_text(stdin or "", encoding="utf-8")
        files["stdout"].touch()
        files["stderr"].touch()
        code = _server.run(
            {
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
