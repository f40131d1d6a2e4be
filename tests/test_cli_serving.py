"""``pullstats serve`` and ``pullstats demo`` check where they will listen before any work, and
the demo keeps to its own loopback installation."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import cli_env, free_port, run_cli


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_serve_refuses_a_port_outside_1_to_65535(data_dir: Path, port: str) -> None:
    result = run_cli(data_dir, "serve", "--port", port)
    assert result.returncode == 2
    assert f"Invalid value for '--port': {port} is not in the range 1<=x<=65535" in result.stderr
    assert not data_dir.exists()


def run_demo(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pullstats demo ARGS`` started in ``folder``, the environment naming another
    data dir (``folder/real``) that the demo must leave alone."""
    return subprocess.run(
        [sys.executable, "-m", "pullstats", "demo", *args],
        cwd=folder,
        env=cli_env(folder / "real"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_demo_on_a_busy_port_says_so_at_once(tmp_path: Path, busy_port: int) -> None:
    result = run_demo(tmp_path, "--port", str(busy_port))
    assert result.returncode == 1
    assert result.stderr.strip().startswith(
        f"error: port {busy_port} on 127.0.0.1 is already in use: stop what listens there "
        "(another pullstats?) or pick a free port with --port, e.g. --port "
    )
    assert list(tmp_path.iterdir()) == []  # at once: nothing seeded, nothing created


def test_the_port_suggested_for_a_busy_one_is_free(data_dir: Path) -> None:
    """The suggestion was the next port, busy or not: two servers side by side (8000, 8001)
    sent the operator to the second one's port."""
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", 0))
        first.listen()
        busy = int(first.getsockname()[1])
        try:
            second.bind(("127.0.0.1", busy + 1))
        except OSError:
            pytest.skip(f"port {busy + 1} is taken by something else: cannot make two busy ports")
        second.listen()
        result = run_cli(data_dir, "serve", "--port", str(busy))
    assert result.returncode == 1
    suggested = int(result.stderr.strip().rsplit("--port ", 1)[1])
    assert suggested > busy + 1  # neither busy port (the old suggestion was busy + 1)


def test_serve_on_a_busy_port_says_so(data_dir: Path, busy_port: int) -> None:
    result = run_cli(data_dir, "serve", "--port", str(busy_port))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"error: port {busy_port} on 127.0.0.1 is already in use" in result.stderr


def test_serve_on_an_address_not_of_this_machine(data_dir: Path) -> None:
    # TEST-NET-1 (RFC 5737): never assigned to a machine, so binding fails at once
    result = run_cli(data_dir, "serve", "--host", "192.0.2.1", "--port", "8000")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: --host 192.0.2.1: not an address of this machine"


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_demo_stays_on_loopback_unless_told(tmp_path: Path, host: str) -> None:
    result = run_demo(tmp_path, "--host", host, "--port", str(free_port()))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: --host {host} can be reached from other machines, and the demo user's "
        "password (pullstats-demo) is public: serve on 127.0.0.1, or add --allow-remote"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e
def test_demo_uses_its_own_data_dir_whatever_the_environment_names(tmp_path: Path) -> None:
    real = tmp_path / "real"
    demo_dir = tmp_path / "pullstats-demo-data"
    demo_dir.mkdir()
    (demo_dir / "demo.json").write_text("{}")  # seeded already: the demo only serves
    port = free_port()
    env = cli_env(real, {"PULLSTATS_DATABASE_URL": f"sqlite:///{tmp_path / 'real.sqlite3'}"})
    log = tmp_path / "demo.log"
    with open(log, "wb") as output:
        demo = subprocess.Popen(
            [sys.executable, "-m", "pullstats", "demo", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert demo.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail(f"the demo did not start: {log.read_text()}")
        # its user's password is public: a page of another site that reaches it through DNS
        # rebinding (its own name, resolved to 127.0.0.1) is refused; loopback names are not
        base = f"http://127.0.0.1:{port}/healthz"
        rebound = httpx.get(base, headers={"Host": f"rebind.example:{port}"}, timeout=10)
        assert rebound.status_code == 400, rebound.text
        for name in ("localhost", "127.0.0.1", "[::1]"):
            own = httpx.get(base, headers={"Host": f"{name}:{port}"}, timeout=10)
            assert own.status_code == 200, (name, own.text)
    finally:
        demo.terminate()
        demo.wait(timeout=30)
    assert f"data dir: {demo_dir}" in log.read_text()
    # the token was shown by the run that made it: this one says how to make another
    hint = (
        f"registry ingest token: PULLSTATS_DATA_DIR={demo_dir} pullstats ingest-tokens create "
        "NAME makes one"
    )
    assert hint in log.read_text()
    assert (demo_dir / "catalog.sqlite3").is_file()
    assert not real.exists()
    assert not (tmp_path / "real.sqlite3").exists()
