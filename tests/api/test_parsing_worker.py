"""The worker process that parses large envelopes ends with its server, however the server ends.

A server parses an envelope of more than 256 events in a worker process (and multiprocessing
starts its resource tracker beside it). Stopped by SIGTERM, the server shuts the worker down;
killed (SIGKILL, the kernel's OOM killer, a crash), it cannot, and the worker used to wait for
work for ever under PID 1, about 90 MB and one more pair of processes per crash. Both ways, the
worker and its helper must be gone within a bounded wait once the server is.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.api.test_ingest import NOON, ingest_token, post
from tests.conftest import start_server
from tests.envelopes import envelope, pull_event

pytestmark = pytest.mark.e2e

PROC = Path("/proc")


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), or None."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def multiprocessing_children(parent: int) -> dict[int, str]:
    """The processes multiprocessing started for ``parent`` (its worker, its resource
    tracker), each as pid → start time (which tells the process from a later one of its pid)."""
    found = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = stat_fields(int(entry.name))
        if fields is None or int(fields[1]) != parent:
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if b"multiprocessing" in command:
            found[int(entry.name)] = fields[19]
    return found


def running(pid: int, started: str) -> bool:
    """Whether the process is still there and running (a zombie has ended: it waits only for
    a parent that may never reap it)."""
    fields = stat_fields(pid)
    return fields is not None and fields[19] == started and fields[0] != "Z"


@pytest.mark.skipif(not (PROC / "self" / "stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_the_parsing_worker_ends_with_its_server(
    data_dir: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    server = start_server(data_dir, tmp_path / "server.log")
    children: dict[int, str] = {}
    try:
        token = ingest_token(data_dir)
        events = [pull_event(NOON, "acme/api", tag=f"1.{i}") for i in range(300)]
        answer = post(server, token, json.dumps(envelope(*events)).encode())
        assert answer.status_code == 200, answer.text[:300]
        assert answer.json()["accepted"] == 300
        children = multiprocessing_children(server.process.pid)
        assert len(children) == 2, children  # the worker and the resource tracker
        server.process.send_signal(sig)
        server.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(running(pid, started) for pid, started in children.items()):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        left = [pid for pid, started in children.items() if running(pid, started)]
        assert not left, f"still running after the server ended: {left}"
    finally:
        server.stop()
        for pid, started in children.items():  # what a failure left behind, not to pile up
            if running(pid, started):
                os.kill(pid, signal.SIGKILL)
