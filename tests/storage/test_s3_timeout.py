"""An S3 endpoint that accepts connections and never answers (a hung server, a proxy whose
backend is gone) is given up after a bounded number of requests, each bounded by
``PULLSTATS_S3_TIMEOUT``, and told as one line naming the store's setting and the timeout.

The stand-in is a loopback socket that accepts and holds every connection, reading nothing back
to the client. What is counted is the requests it received: botocore's retries and s3fs's own
multiplied (3 × 5 = 15 requests before), so the count proves the bound. A ``PUT`` is among the
operations: with ``Expect: 100-continue`` it waited for the ``100 Continue`` for ever, past any
read timeout. No time is measured: the timeout only keeps each test short.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from pullstats.config import Settings
from pullstats.s3_store import S3Store
from pullstats.storage import StorageError
from tests.conftest import run_cli
from tests.storage.conftest import aws_env

# one worker runs the module, so that `outcomes` waits out the hung endpoints once
pytestmark = [pytest.mark.s3, pytest.mark.xdist_group("s3-timeout")]

#: The requests one operation sends to an endpoint that never answers: botocore's first
#: attempt and its one retry; s3fs adds none (s3_store._options).
ATTEMPTS = 2


class HungServer:
    """A TCP server on loopback that accepts every connection and never answers a byte."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self._lines: list[str] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._held.append(connection)

    def stop(self) -> list[str]:
        """Stop accepting; the request line of each connection received, in order (those still
        in the accept queue too: a client counts a connection once the handshake is done)."""
        if self._stopping.is_set():
            return self._lines
        self._stopping.set()
        self._thread.join()
        self._listener.setblocking(False)
        while True:
            try:
                self._held.append(self._listener.accept()[0])
            except BlockingIOError:
                break
        self._listener.close()
        self._lines = [_request_line(connection) for connection in self._held]
        for connection in self._held:
            connection.close()
        return self._lines


def _request_line(connection: socket.socket) -> str:
    """The first line a client sent on ``connection`` (sent before it waited for an answer)."""
    connection.settimeout(10)
    data = b""
    while b"\r\n" not in data:
        try:
            chunk = connection.recv(4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode("latin-1")


@pytest.fixture
def hung() -> Iterator[HungServer]:
    server = HungServer()
    yield server
    server.stop()


def lake_on(
    hung: HungServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bucket: str
) -> S3Store:
    """The lake's store as the settings open it, in ``bucket`` on the hung endpoint, with a 1 s
    timeout."""
    for name, value in aws_env(hung.endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PULLSTATS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PULLSTATS_LAKE_URL", f"s3://{bucket}/lake")
    monkeypatch.setenv("PULLSTATS_S3_TIMEOUT", "PT1S")
    lake = Settings().lake
    assert isinstance(lake, S3Store)
    return lake


def _publish(store: S3Store, tmp_path: Path) -> None:
    staged = tmp_path / "staged.parquet"
    staged.write_bytes(b"PAR1")
    store.publish(staged, "requests/day=2026-10-05/part-0.parquet")


#: each operation, and the request it sends (method and path, the query left out), to a
#: bucket of its own (bucket_of)
OPERATIONS: dict[str, tuple[Callable[[S3Store, Path], object], str]] = {
    "check": (lambda store, _: store.check(), "GET /hung-check"),
    "files": (lambda store, _: store.files("requests"), "GET /hung-files"),
    "folders": (lambda store, _: store.folders("requests"), "GET /hung-folders"),
    "read_bytes": (
        lambda store, _: store.read_bytes("_meta.json"),
        "HEAD /hung-read-bytes/lake/_meta.json",
    ),
    "publish": (_publish, "PUT /hung-publish/lake/requests/"),
}


def bucket_of(operation: str) -> str:
    return "hung-" + operation.replace("_", "-")


def _bucket(request_line: str) -> str:
    """The bucket a request line names (``GET /bucket?list-type=2 HTTP/1.1``)."""
    path = request_line.split(" ")[1] if " " in request_line else ""
    return path.lstrip("/").split("/")[0].split("?")[0]


@dataclass
class Outcome:
    """One operation's run against the hung endpoint."""

    #: what the operation raised (None: nothing)
    error: BaseException | None
    #: the request line of each connection the endpoint received for the operation's bucket
    received: list[str]


@dataclass
class Outcomes:
    endpoint: str
    #: the request line of each connection the endpoint received, in order
    received: list[str]
    by_operation: dict[str, Outcome]


def _run(
    action: Callable[[S3Store, Path], object], store: S3Store, folder: Path
) -> BaseException | None:
    try:
        action(store, folder)
    except BaseException as error:
        return error
    return None


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcomes]:
    """Every operation at the same time, each on a bucket of its own on one hung endpoint (so
    AWS_ENDPOINT_URL names it for all), told apart by the bucket of the requests: each waits
    out its own timeouts, so the module waits them out once, not once per operation."""
    hung = HungServer()
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            stores = {}
            for operation in OPERATIONS:
                folder = tmp_path_factory.mktemp(operation)
                store = lake_on(hung, monkeypatch, folder, bucket_of(operation))
                stores[operation] = (store, folder)
            with ThreadPoolExecutor(len(stores)) as pool:
                running = {
                    operation: pool.submit(_run, OPERATIONS[operation][0], store, folder)
                    for operation, (store, folder) in stores.items()
                }
                errors = {operation: future.result() for operation, future in running.items()}
        received = hung.stop()
    finally:
        hung.stop()
    yield Outcomes(
        hung.endpoint,
        received,
        {
            operation: Outcome(
                errors[operation],
                [line for line in received if _bucket(line) == bucket_of(operation)],
            )
            for operation in OPERATIONS
        },
    )


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_hung_endpoint_is_given_up_after_two_requests(operation: str, outcomes: Outcomes) -> None:
    _, request = OPERATIONS[operation]
    outcome = outcomes.by_operation[operation]
    assert isinstance(outcome.error, StorageError), outcome.error
    # every request the endpoint received was sent by one of the operations
    shares = [len(each.received) for each in outcomes.by_operation.values()]
    assert sum(shares) == len(outcomes.received), outcomes.received
    received = outcome.received
    assert len(received) == ATTEMPTS, received
    assert all(line.startswith(request) for line in received), received
    line = str(outcome.error)
    assert "\n" not in line
    assert line.startswith(
        f"PULLSTATS_LAKE_URL=s3://{bucket_of(operation)}/lake: no answer from AWS_ENDPOINT_URL "
        f"{outcomes.endpoint} within PULLSTATS_S3_TIMEOUT=PT1S (each request is sent at most "
        f"{ATTEMPTS} times): check that S3 server, or raise PULLSTATS_S3_TIMEOUT if it is only "
        "slow (Read timeout on endpoint URL: "
    ), line


def test_a_hung_endpoint_stops_a_command_with_one_line_naming_the_settings(
    hung: HungServer, tmp_path: Path
) -> None:
    env = {
        **aws_env(hung.endpoint),
        "PULLSTATS_EXPORTS_URL": "s3://hung-exports/x",
        "PULLSTATS_S3_TIMEOUT": "PT1S",
    }
    (tmp_path / "data").mkdir()  # process refuses a data dir that is not there
    result = run_cli(tmp_path / "data", "process", env=env)
    received = hung.stop()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "error: PULLSTATS_EXPORTS_URL=s3://hung-exports/x: no answer from AWS_ENDPOINT_URL "
        f"{hung.endpoint} within PULLSTATS_S3_TIMEOUT=PT1S (each request is sent at most "
        f"{ATTEMPTS} times): check that S3 server, or raise PULLSTATS_S3_TIMEOUT if it is only "
        "slow (Read timeout on endpoint URL: "
    ), lines[0]
    # the start's check of the store (a listing of one key), tried twice, then nothing more
    assert len(received) == ATTEMPTS, received
    assert all(line.startswith("GET /hung-exports?list-type=2") for line in received), received
