"""The server's job schedule: `pullstats process`, then `pullstats export`, every interval.

The jobs run as child processes with a lower CPU priority (``nice -n 10``), never inside the
serving process, so a two-core export cannot push ingest answers past a registry's timeout.
The commands take the job lock themselves (on a PostgreSQL catalog an advisory lock in the
database, :mod:`pullstats.lake.jobs`), so a run started by hand, by another worker or by another
server sharing the catalog waits its turn instead of overlapping, and finds what the others
already exported up to date. One scheduler runs one round at a time: the next round starts
an interval after the previous one ended, never while it is still running.

A job ended by a stop signal (SIGTERM, SIGINT, SIGHUP) is logged as stopped, not failed: a stop
sent to the server's whole process group (``timeout``, systemd's default ``KillMode``) reaches
the job as the server stops, and the jobs' writes are atomic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pullstats.config import Settings
from pullstats.logs import log_to_stderr

__all__ = ["NICENESS", "Scheduler", "job_commands"]

log = logging.getLogger("pullstats.scheduler")

#: How much lower than the server's the jobs' CPU priority is.
NICENESS = 10
#: How long a stopping server gives a running job before it is killed (the jobs are atomic).
STOP_SECONDS = 10.0
#: The signals that stop a job rather than fail it: a stop of the server's process group
STOPS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})


def job_commands() -> list[tuple[str, ...]]:
    """The closing: compact, classify and roll up, then export every closed period."""
    pullstats = (sys.executable, "-m", "pullstats")
    return [(*pullstats, "process"), (*pullstats, "export")]


def _niced(command: Sequence[str]) -> list[str]:
    nice = shutil.which("nice")
    return [nice, "-n", str(NICENESS), *command] if nice else list(command)


def _lower_priority() -> None:
    os.nice(NICENESS)


def _child_env(settings: Settings) -> dict[str, str]:
    """The server's environment, pinned to the server's data dir, node and catalog."""
    env = dict(os.environ)
    env["PULLSTATS_DATA_DIR"] = str(settings.paths.root)
    # the jobs are this node: its name and keys, however the server was given them
    env["PULLSTATS_NODE_NAME"] = settings.node
    if settings.keys_dir is not None:
        env["PULLSTATS_KEYS_DIR"] = str(settings.paths.keys)
    if settings.database_url is not None:  # passed on, never logged
        env["PULLSTATS_DATABASE_URL"] = settings.database_url.get_secret_value()
    else:  # the demo's SQLite catalog, whatever the environment names
        env.pop("PULLSTATS_DATABASE_URL", None)
    return env


@dataclass
class RoundResult:
    ok: bool
    seconds: float
    #: a job was stopped by a signal (:data:`STOPS`): not ok, and no failure either
    stopped: bool = False


class Scheduler:
    """Runs ``commands`` one after the other every ``interval`` seconds, from an asyncio task."""

    def __init__(
        self,
        settings: Settings,
        commands: Sequence[Sequence[str]] | None = None,
        interval: float | None = None,
    ) -> None:
        self.settings = settings
        self.commands = [tuple(c) for c in (commands or job_commands())]
        self.interval = settings.schedule_interval.total_seconds() if interval is None else interval
        self.rounds = 0
        self._task: asyncio.Task[None] | None = None
        self._child: asyncio.subprocess.Process | None = None

    @property
    def enabled(self) -> bool:
        return self.interval > 0

    def start(self) -> None:
        log_to_stderr(log)
        if not self.enabled:
            log.info("job schedule off (PULLSTATS_SCHEDULE_INTERVAL is 0)")
            return
        log.info("job schedule: process and export every %g s", self.interval)
        self._task = asyncio.create_task(self._loop(), name="pullstats-scheduler")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.run_round()

    async def run_round(self) -> RoundResult:
        """Run every command in order; a failed one skips the rest of the round."""
        self.rounds += 1
        started = time.monotonic()
        outcome = "succeeded"
        for command in self.commands:
            outcome = await self._run(command)
            if outcome != "succeeded":
                break
        result = RoundResult(
            outcome == "succeeded", time.monotonic() - started, stopped=outcome == "stopped"
        )
        log.info("scheduled round %d %s in %.1f s", self.rounds, outcome, result.seconds)
        return result

    async def _run(self, command: Sequence[str]) -> str:
        """Run one job: ``succeeded``, ``failed`` or ``stopped`` (by a signal in :data:`STOPS`)."""
        name = " ".join(command[2:] if command[:2] == (sys.executable, "-m") else command)
        niced = _niced(command)
        child = await asyncio.create_subprocess_exec(
            *niced,
            env=_child_env(self.settings),
            # without a `nice` binary the child lowers its own priority before it starts
            preexec_fn=None if niced[0] != command[0] else _lower_priority,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._child = child
        try:
            output, _ = await child.communicate()
        except asyncio.CancelledError:
            await self._end(child)
            raise
        finally:
            self._child = None
        # progress bars redraw with carriage returns: keep each line's final state
        lines = [
            line.rsplit("\r", 1)[-1].strip()
            for line in output.decode(errors="replace").splitlines()
        ]
        # a damaged lake file set aside (lake/damaged_files.py), an export that could not write
        # one (namespace, period), …: each line, then the job's last other line, its summary
        told = [line for line in lines if line.startswith(("warning:", "error:"))]
        for line in told:
            log.warning("scheduled %s: %s", name, line)
        summary = next((line for line in reversed(lines) if line and line not in told), "")
        code = child.returncode
        if code == 0:
            log.info("scheduled %s: %s", name, summary)
            return "succeeded"
        if code is not None and code < 0 and -code in STOPS:
            log.info(
                "scheduled %s stopped by %s (the server stopping, or a stop sent to the job): "
                "what it published stays, the next run does the rest",
                name,
                signal.Signals(-code).name,
            )
            return "stopped"
        how = (
            f"killed by {_signal_name(-code)}" if code is not None and code < 0 else f"exit {code}"
        )
        summary = summary or ("its error lines above" if told else "no output")
        log.warning("scheduled %s failed (%s): %s", name, how, summary)
        return "failed"

    @staticmethod
    async def _end(child: asyncio.subprocess.Process) -> None:
        """Stop a job because the server is stopping; its writes are atomic, so this is safe."""
        if child.returncode is not None:
            return
        child.terminate()
        try:
            await asyncio.wait_for(child.wait(), STOP_SECONDS)
        except TimeoutError:
            child.kill()
            await child.wait()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
