"""Shared fixtures: a data dir in tmp_path, the installation, and a real server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pullstats.config import Settings
from pullstats.ingest.records import PullRequestRecord
from pullstats.lake.spool import SpoolWriter
from pullstats.runtime import Runtime


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.open(settings)
    yield rt
    rt.close()


def write_spool(runtime: Runtime, *records: PullRequestRecord) -> None:
    """Append records to the spool as the server would, and close the segment."""
    writer = SpoolWriter(runtime.paths.spool, segment_bytes=1 << 20)
    try:
        writer.append(b"".join(r.to_line() for r in records))
    finally:
        writer.close()


def cli_env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULLSTATS_")}
    env["PULLSTATS_DATA_DIR"] = str(data_dir)
    env.update(extra or {})
    return env


def run_cli(
    data_dir: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``pullstats`` command line in a child process against ``data_dir``."""
    return subprocess.run(
        [sys.executable, "-m", "pullstats", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=cli_env(data_dir),
        timeout=300,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(data_dir: Path, log: Path, env: dict[str, str] | None = None) -> Server:
    """``pullstats serve`` in a child process on a free loopback port, once /healthz answers."""
    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pullstats",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=cli_env(data_dir, env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, data_dir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not start: {log.read_text()}")


@pytest.fixture
def server(data_dir: Path, tmp_path: Path) -> Iterator[Server]:
    srv = start_server(data_dir, tmp_path / "server.log")
    yield srv
    srv.stop()
