"""Turning a delivered envelope into spool lines and an answer, without stalling the server.

A small envelope (what registries send: one event) is parsed on the event loop, where it costs
less than a hop elsewhere. A large one is written to a file in ``tmp/`` as it arrives and parsed
in a worker process, which reads the file: ``json.loads`` holds the
GIL for its whole run (a quarter of a second for 16 MiB), and every event, accepted or
rejected, costs Python time besides; in a thread either would stall every other request of the
server. The worker hands back only bytes and counts (the spool lines, the answer's JSON), so
taking its result costs the event loop next to nothing. One worker at a time bounds memory to
one body's parse; deliveries of large envelopes queue for it.

The worker ends with its server. A server that stops shuts it down; one that is killed (SIGKILL,
the OOM killer) cannot, and the worker would wait for work for ever (it holds both ends of its
own task queue, so it never reads an end of file there), under PID 1 with its resource tracker.
So a thread in the worker checks every :data:`PARENT_CHECK_SECONDS` that its parent is still
the server that started it, and ends the worker once it is not, as gunicorn's workers do.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pullstats.api.models import IngestRejection, IngestReport
from pullstats.ingest.errors import EnvelopeTooLarge, InvalidEnvelope, UnsupportedMediaType
from pullstats.ingest.notifications import envelope_events, parse_events
from pullstats.ingest.records import spool_lines
from pullstats.ingest.time_window import TimeWindow


def spill_path(folder: Path) -> Path:
    """A new file for one large body: ``envelope-<pid>-<random>.json`` (the pid tells
    :func:`remove_stale_spills` whose it is)."""
    return folder / f"envelope-{os.getpid()}-{uuid.uuid4().hex}.json"


def remove_stale_spills(folder: Path) -> None:
    """Delete the body files of server processes that are gone (killed while parsing one):
    they hold raw client addresses, which must not outlive the spool's."""
    for path in folder.glob("envelope-*-*.json"):
        try:
            os.kill(int(path.name.split("-")[1]), 0)
        except ValueError:
            continue
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except PermissionError:  # a live process of another user
            continue


#: Bodies up to this size are read on the event loop (json.loads of 64 KiB: about a millisecond).
INLINE_BYTES = 64 * 1024
#: ... and their events handled there too, up to this many (a few milliseconds of work; the
#: webhook benchmark's 100-event envelopes stay here); more go to the worker.
INLINE_EVENTS = 256


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one envelope adds to the spool and how it is answered."""

    lines: bytes  # spool lines of the accepted requests
    accepted: int
    ignored: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)  # by reason
    report: bytes = b""  # the IngestReport answered, as JSON


@dataclass(frozen=True, slots=True)
class Refusal:
    """The whole envelope is refused (an :class:`InvalidEnvelope`, which does not pickle whole)."""

    status_code: int
    detail: str


def refusal_status(error: InvalidEnvelope) -> int:
    """The HTTP status that refuses a delivery for ``error``: 413 too large, 415 not an
    envelope's media type, else 400."""
    if isinstance(error, EnvelopeTooLarge):
        return 413
    if isinstance(error, UnsupportedMediaType):
        return 415
    return 400


def deliver(events: list[Any], received_us: int, max_skew: timedelta) -> Delivery:
    """The delivery of an envelope's ``events``."""
    result = parse_events(events, received_us, TimeWindow.at(received_us, max_skew))
    report = IngestReport(
        accepted=len(result.records),
        ignored=dict(result.ignored),
        rejected=[IngestRejection(index=i, error=e) for i, e in result.rejected],
    )
    return Delivery(
        lines=spool_lines(result.records) if result.records else b"",
        accepted=len(result.records),
        ignored=dict(result.ignored),
        rejected=dict(result.rejected_reasons),
        # the model is the documented shape (response_model); dumping it skips FastAPI
        # validating it a second time
        report=report.model_dump_json().encode(),
    )


def deliver_file(path: Path, received_us: int, max_events: int, max_skew: timedelta) -> Any:
    """:func:`deliver` for a body written to ``path``, in the worker: a :class:`Delivery` or
    a :class:`Refusal`."""
    try:
        body = path.read_bytes()
        return deliver(envelope_events(body, max_events), received_us, max_skew)
    except InvalidEnvelope as error:
        return Refusal(refusal_status(error), str(error))


#: How much lower the worker's CPU priority is than the server's (``nice``).
WORKER_NICENESS = 10
#: How often the worker checks that its server is still there.
PARENT_CHECK_SECONDS = 0.5


def _exit_without_server(server_pid: int) -> None:
    """End the worker once its parent is no longer ``server_pid``: the server died and the
    worker was handed to another process (PID 1, a subreaper). Checked from the pid passed
    in, not the parent seen at start, so a server that died before this ran is noticed too."""
    while os.getppid() == server_pid:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)  # a parse in progress has no one to take its result


def start_worker(server_pid: int, niceness: int) -> None:
    """The worker's initializer: its lower priority first (its imports already run at it),
    then the watch on its server (see the module docstring)."""
    os.nice(niceness)
    threading.Thread(
        target=_exit_without_server, args=(server_pid,), name="server-watch", daemon=True
    ).start()


class EnvelopeParser:
    """Parses deliveries inline or in the worker process (see the module docstring)."""

    def __init__(self, max_events: int, max_skew: timedelta, spill_dir: Path) -> None:
        self.max_events = max_events
        self.spill_dir = spill_dir
        self.max_skew = max_skew
        self._pool: ProcessPoolExecutor | None = None
        self._starting = asyncio.Lock()

    async def parse(self, body: bytes | Path, received_us: int) -> Delivery | Refusal:
        """Parse a body held in memory (small) or written to a file (large, see
        ``api/ingest.py``); the caller deletes the file."""
        if isinstance(body, Path):
            return await self._in_worker(body, received_us)
        try:
            events = envelope_events(body, self.max_events)
        except InvalidEnvelope as error:
            return Refusal(refusal_status(error), str(error))
        if len(events) <= INLINE_EVENTS:
            return deliver(events, received_us, self.max_skew)
        # more events than are cheap here: the worker parses the body again, from a file
        path = spill_path(self.spill_dir)
        try:
            path.write_bytes(body)
            return await self._in_worker(path, received_us)
        finally:
            path.unlink(missing_ok=True)

    async def _in_worker(self, path: Path, received_us: int) -> Delivery | Refusal:
        async with self._starting:
            if self._pool is None:
                # in a thread: starting a process costs the calling thread tens of ms
                self._pool = await asyncio.to_thread(self._start_worker)
            pool = self._pool
        loop = asyncio.get_running_loop()
        try:
            outcome: Delivery | Refusal = await loop.run_in_executor(
                pool, deliver_file, path, received_us, self.max_events, self.max_skew
            )
        except BrokenProcessPool:
            # the worker died (the kernel's OOM killer, most likely): a new one takes the next
            if self._pool is pool:
                self._pool = None
            pool.shutdown(wait=False)
            return Refusal(503, "the envelope could not be parsed (its worker died); retry")
        return outcome

    @staticmethod
    def _start_worker() -> ProcessPoolExecutor:
        # spawn, not fork: the server has threads (and a database connection) a forked child
        # would inherit in whatever state they were. On a busy machine the event loop
        # answering requests goes first: the worker runs at a lower priority.
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=start_worker,
            initargs=(os.getpid(), WORKER_NICENESS),
        )
        pool.submit(int)  # starts the process (a pool starts one only on a submit)
        return pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
