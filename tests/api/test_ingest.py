"""The ingest endpoint on a real server: bad deliveries are refused whole, bad events alone.

Most tests share one server (``shared``) and one ingest token: each reads only what its own
deliveries added, to the spool (:func:`spool_mark`, :func:`new_spool_lines`) and to the
counters of ``/metrics`` (:func:`counters`), so none depends on what the others sent, nor on
their order. A test that runs ``pullstats process`` and counts the lake, or that needs other
settings, starts a server of its own.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest

from pullstats.api.ingest import _not_stored
from pullstats.lake.spool import SpoolWriter
from pullstats.periods import last_complete_months
from tests.conftest import Server, run_cli, server_of_its_own, start_server
from tests.duckdb_cursor import duckdb_cursor
from tests.envelopes import ENVELOPE_TYPE, envelope, pull_event

# the tenth day of the last complete month: inside every default window of the API
NOON = datetime.combine(
    last_complete_months(datetime.now(UTC).date(), 1)[0] + timedelta(days=9), time(12), UTC
)


def ingest_token(data_dir: Path) -> str:
    created = run_cli(data_dir, "ingest-tokens", "create", "test-registry")
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def stored_requests(data_dir: Path) -> int:
    files = list((data_dir / "lake" / "requests").glob("day=*/*.parquet"))
    if not files:
        return 0
    with duckdb_cursor() as connection:
        query = f"SELECT count(*) FROM read_parquet({[str(f) for f in files]})"
        row = connection.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def spool_bytes(data_dir: Path) -> int:
    return sum(f.stat().st_size for f in (data_dir / "spool").iterdir())


def spool_mark(data_dir: Path) -> dict[str, int]:
    """How far each spool segment goes now, by name (a segment closed later keeps its stem)."""
    return {f.stem: f.stat().st_size for f in (data_dir / "spool").iterdir()}


def new_spool_lines(data_dir: Path, mark: dict[str, int]) -> list[bytes]:
    """The spool's lines written since ``mark``, in the order they were written."""
    segments = sorted((data_dir / "spool").iterdir(), key=lambda f: f.stem)
    added = b"".join(f.read_bytes()[mark.get(f.stem, 0) :] for f in segments)
    return added.splitlines()


def counters(server: Server) -> dict[str, float]:
    """The server's ``/metrics`` samples: ``name{labels}`` -> value."""
    with server.client() as client:
        text = client.get("/metrics").text
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    samples = (line.rsplit(" ", 1) for line in lines)
    return {sample: float(value) for sample, value in samples}


def added(before: dict[str, float], after: dict[str, float], sample: str) -> float:
    """How much counter ``sample`` grew between the two readings (0 where it did not exist)."""
    return after.get(sample, 0.0) - before.get(sample, 0.0)


#: one server for most of the module: under pytest-xdist every test of it runs on one worker
pytestmark = pytest.mark.xdist_group("ingest")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server the module's tests share; each reads only what its own deliveries added."""
    yield from server_of_its_own(tmp_path_factory, "ingest")


@pytest.fixture(scope="module")
def shared_token(shared: Server) -> str:
    """An ingest token of ``shared`` that no test revokes."""
    return ingest_token(shared.data_dir)


@pytest.fixture
def token(server: Server) -> str:
    return ingest_token(server.data_dir)


def post(
    server: Server, token: str | None, body: bytes, content_type: str = ENVELOPE_TYPE
) -> httpx.Response:
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with server.client() as client:
        return client.post("/ingest/v1/registry/events", content=body, headers=headers)


GOOD = json.dumps(envelope(pull_event(NOON, "acme/api", tag="1.0"))).encode()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"{not json", ENVELOPE_TYPE, 400, "not JSON"),
        (b'{"evts": []}', ENVELOPE_TYPE, 400, "no 'events'"),
        (b'{"events": {"id": 1}}', ENVELOPE_TYPE, 400, "must be an array"),
        (b"[1, 2]", "application/json", 400, "no 'events'"),
        (b"\xff\xfe", ENVELOPE_TYPE, 400, "not JSON"),
        (GOOD, "text/plain", 415, "unsupported content type"),
        (GOOD, "application/x-www-form-urlencoded", 415, "unsupported content type"),
    ],
    ids=[
        "broken-json",
        "no-events",
        "events-not-array",
        "top-level-array",
        "not-utf8",
        "text-plain",
        "form",
    ],
)
def test_unusable_deliveries_are_refused_whole(
    shared: Server, shared_token: str, body: bytes, content_type: str, status: int, message: str
) -> None:
    before = spool_bytes(shared.data_dir)
    response = post(shared, shared_token, body, content_type)
    assert response.status_code == status
    assert message in response.json()["detail"]
    assert spool_bytes(shared.data_dir) == before


def test_a_compressed_body_is_refused_naming_its_coding(shared: Server, shared_token: str) -> None:
    # before, a gzip body was a 400 "body is not JSON: … byte 0x8b", and a plain body sent
    # with the gzip header was taken
    server, token = shared, shared_token
    stored = spool_bytes(server.data_dir)
    with server.client() as client:
        for body in (gzip.compress(GOOD), GOOD):
            response = client.post(
                "/ingest/v1/registry/events",
                content=body,
                headers={
                    "Content-Type": ENVELOPE_TYPE,
                    "Content-Encoding": "gzip",
                    "Authorization": f"Bearer {token}",
                },
            )
            assert response.status_code == 415
            assert response.json() == {
                "detail": "Content-Encoding 'gzip' is not taken: send the envelope uncompressed"
            }
            assert response.headers["accept-encoding"] == "identity"
        # the header repeated, or a list of codings: any but identity is refused
        for codings in ([("Content-Encoding", "identity"), ("Content-Encoding", "gzip")],
                        [("Content-Encoding", "identity, gzip")]):  # fmt: skip
            response = client.post(
                "/ingest/v1/registry/events",
                content=gzip.compress(GOOD),
                headers=[
                    ("Content-Type", ENVELOPE_TYPE),
                    ("Authorization", f"Bearer {token}"),
                    *codings,
                ],
            )
            assert response.status_code == 415, codings
        assert spool_bytes(server.data_dir) == stored
        headers = {"Content-Encoding": "identity", "Authorization": f"Bearer {token}"}
        headers["Content-Type"] = ENVELOPE_TYPE
        taken = client.post("/ingest/v1/registry/events", content=GOOD, headers=headers)
    assert taken.json()["accepted"] == 1


def test_tokens_are_required(shared: Server, shared_token: str) -> None:
    server, token = shared, shared_token
    stored = spool_bytes(server.data_dir)
    assert post(server, None, GOOD).status_code == 401
    assert post(server, "psi_0123456789abcdef_" + "x" * 43, GOOD).status_code == 401
    assert post(server, token[:-1] + ("A" if token[-1] != "A" else "B"), GOOD).status_code == 401
    assert spool_bytes(server.data_dir) == stored
    assert post(server, token, GOOD).status_code == 200


def test_rotation_revokes_the_old_token_on_its_next_delivery(shared: Server) -> None:
    # the documented rotation: create a second token, move the registry to it, revoke the
    # first. Revocation runs in another process (the CLI); the server has just used the old
    # token, so only the catalog can tell it, and its very next delivery is refused.
    # Both tokens are this test's own: the module's shared token is never revoked.
    server = shared
    token = ingest_token(server.data_dir)
    assert post(server, token, GOOD).status_code == 200
    second = ingest_token(server.data_dir)
    assert post(server, second, GOOD).status_code == 200
    assert post(server, token, GOOD).status_code == 200  # still live until revoked
    token_id = token.split("_")[1]
    revoked = run_cli(server.data_dir, "ingest-tokens", "revoke", token_id)
    assert revoked.returncode == 0, revoked.stderr
    refused = post(server, token, GOOD)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "invalid ingest token"}
    assert post(server, second, GOOD).status_code == 200


def test_bad_events_are_skipped_and_the_rest_kept(server: Server, token: str) -> None:
    missing_timestamp = pull_event(NOON, "acme/api", tag="1.0")
    del missing_timestamp["timestamp"]
    bad_address = pull_event(NOON, "acme/api", tag="1.0", addr="not-an-ip")
    events = [
        pull_event(NOON, "acme/api", tag="1.0"),
        missing_timestamp,
        pull_event(NOON, "acme/web", tag="2.0", addr="198.51.100.1:1"),
        bad_address,
        "not an event",
        pull_event(NOON, "Acme/Upper", tag="1.0"),
        pull_event(NOON, "acme/db", digest="sha256:" + "c" * 64),
    ]
    response = post(server, token, json.dumps(envelope(*events)).encode())
    assert response.status_code == 200
    report = response.json()
    assert report["accepted"] == 3
    assert [r["index"] for r in report["rejected"]] == [1, 3, 4, 5]
    assert "timestamp" in report["rejected"][0]["error"]
    assert "address" in report["rejected"][1]["error"]
    assert "repository name" in report["rejected"][3]["error"]

    processed = run_cli(server.data_dir, "process")
    assert processed.returncode == 0, processed.stderr
    assert stored_requests(server.data_dir) == 3
    with server.client() as client:
        metrics = client.get("/metrics").text
    assert (
        'pullstats_ingest_events_total{outcome="accepted",reason="manifest_request"} 3.0' in metrics
    )
    assert 'pullstats_ingest_events_total{outcome="rejected",reason="invalid_event"} 4.0' in metrics
    assert "acme" not in metrics  # no namespace or repository labels
    # answered in front of the router (api/ingest.py DirectIngest), counted under the route
    delivery = 'method="POST",route="/ingest/v1/registry/events",status="200"'
    assert f"pullstats_http_requests_total{{{delivery}}} 1.0" in metrics


def test_lone_surrogate_rejects_its_event_not_the_delivery(
    shared: Server, shared_token: str
) -> None:
    # "\ud800" is valid JSON but no UTF-8 spool line can hold it: before, the whole envelope
    # failed with a 500 that the registry would have retried for ever
    events = [
        pull_event(NOON, "acme/api", tag="1.0", event_id="ok-1"),
        pull_event(NOON, "acme/api", tag="1.0", event_id="@@BAD@@"),
        pull_event(NOON, "acme/api", tag="1.0", useragent="docker/27 ✓ ünïcode", event_id="ok-3"),
    ]
    body = json.dumps(envelope(*events)).encode().replace(b"@@BAD@@", b"x\\ud800")
    mark = spool_mark(shared.data_dir)
    response = post(shared, shared_token, body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    report = response.json()
    assert report["accepted"] == 2
    assert report["ignored"] == {}
    assert [r["index"] for r in report["rejected"]] == [1]
    assert "lone surrogate" in report["rejected"][0]["error"]
    lines = new_spool_lines(shared.data_dir, mark)
    assert [json.loads(line)["id"] for line in lines] == ["ok-1", "ok-3"]
    assert json.loads(lines[1])["ua"] == "docker/27 ✓ ünïcode"


def test_what_a_delivery_accepts_is_what_the_spool_keeps(shared: Server, shared_token: str) -> None:
    # before, a link-local client's address (with its zone) and an id past 512 characters were
    # answered as accepted and then set aside by process as invalid_record; a surrogate in the
    # address's zone failed the whole delivery with a 500
    events = [
        pull_event(NOON, "acme/api", tag="1.0", event_id="ok-1"),
        pull_event(NOON, "acme/api", tag="1.0", event_id="ok-2", addr="[fe80::1%eth0]:5000"),
        pull_event(NOON, "acme/api", tag="1.0", event_id="i" * 513),
        pull_event(NOON, "acme/api", tag="1.0", event_id="ok-4", addr="[fe80::2%@@Z@@]:1"),
    ]
    body = json.dumps(envelope(*events)).encode().replace(b"@@Z@@", b"\\ud800")
    mark = spool_mark(shared.data_dir)
    response = post(shared, shared_token, body)
    assert response.status_code == 200
    report = response.json()
    assert (report["accepted"], [r["index"] for r in report["rejected"]]) == (3, [2])
    assert report["rejected"][0]["error"] == "'id' is longer than 512 characters"
    lines = new_spool_lines(shared.data_dir, mark)
    kept = [(json.loads(line)["id"], json.loads(line)["ip"]) for line in lines]
    assert kept == [("ok-1", "203.0.113.7"), ("ok-2", "fe80::1"), ("ok-4", "fe80::2")]


def test_ignored_events_are_reported_by_reason(shared: Server, shared_token: str) -> None:
    push = pull_event(NOON, "acme/api", tag="1.0", method="PUT")
    push["action"] = "push"
    blob = pull_event(NOON, "acme/api", media_type="application/octet-stream", kind="blobs")
    head = pull_event(NOON, "acme/api", tag="1.0", method="head", addr="[2001:DB8::1]:443")
    mark, before = spool_mark(shared.data_dir), counters(shared)
    response = post(shared, shared_token, json.dumps(envelope(push, blob, head, push)).encode())
    assert response.status_code == 200
    assert response.json() == {
        "accepted": 1,
        "ignored": {"push": 2, "blob_request": 1},
        "rejected": [],
    }
    [line] = new_spool_lines(shared.data_dir, mark)
    stored = json.loads(line)
    assert (stored["method"], stored["ip"]) == ("HEAD", "2001:db8::1")
    after = counters(shared)
    ignored = 'pullstats_ingest_events_total{outcome="ignored",reason="%s"}'
    assert added(before, after, ignored % "push") == 2.0
    assert added(before, after, ignored % "blob_request") == 1.0


def test_oversized_body_is_refused(data_dir: Path, tmp_path: Path) -> None:
    token = ingest_token(data_dir)
    server = start_server(
        data_dir, tmp_path / "server.log", {"PULLSTATS_INGEST_MAX_BODY_BYTES": "4096"}
    )
    try:
        events = [pull_event(NOON, "acme/api", tag="1.0") for _ in range(20)]
        response = post(server, token, json.dumps(envelope(*events)).encode())
        assert response.status_code == 413
        assert spool_bytes(data_dir) == 0
        assert post(server, token, GOOD).status_code == 200
    finally:
        server.stop()


def test_process_runs_while_the_server_ingests(server: Server, token: str) -> None:
    """Senders post without pause while ``pullstats process`` runs three times beside them."""
    sent: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def sender(worker: int) -> None:
        with server.client() as client:
            batch = 0
            while not stop.is_set() and batch < 400:
                events = [
                    pull_event(
                        NOON + timedelta(seconds=batch, milliseconds=k),
                        f"acme/app{worker}",
                        tag="1.0",
                        addr=f"10.{worker}.{batch % 250}.{k + 1}",
                    )
                    for k in range(10)
                ]
                response = client.post(
                    "/ingest/v1/registry/events",
                    json=envelope(*events),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": ENVELOPE_TYPE},
                )
                if response.status_code != 200 or response.json()["accepted"] != 10:
                    failures.append(response.text)
                sent.append(10)
                batch += 1

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    try:
        runs = [run_cli(server.data_dir, "process") for _ in range(3)]
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert all(run.returncode == 0 for run in runs), [run.stderr for run in runs]
    final = run_cli(server.data_dir, "process")
    assert final.returncode == 0, final.stderr
    assert failures == []
    assert sum(sent) > 0
    assert stored_requests(server.data_dir) == sum(sent)
    # the rollups agree: every request is its own pull_by_tag (distinct ips)
    with server.client() as client:
        assert (
            run_cli(
                server.data_dir,
                "users",
                "add",
                "ops",
                "--password-stdin",
                stdin="ops-watches-the-graphs\n",
            ).returncode
            == 0
        )
        assert run_cli(server.data_dir, "namespaces", "add", "acme").returncode == 0
        assert run_cli(server.data_dir, "members", "add", "acme", "ops").returncode == 0
        login = client.post(
            "/v2/users/login", json={"username": "ops", "password": "ops-watches-the-graphs"}
        ).json()
        weeks = client.get(
            "/api/publisher/analytics/v1/namespaces/acme/pulls",
            params={"timespan": "weeks", "period": "last-2-months"},
            headers={"Authorization": f"Bearer {login['token']}"},
        ).json()["pulls"]
    assert sum(row["pullCount"] for row in weeks) == sum(sent)


def test_a_data_dir_that_cannot_be_written_is_a_503_to_retry(
    data_dir: Path, tmp_path: Path
) -> None:
    # a full disk, or any write the data dir refuses: the answer was a bare 500 and the log a
    # traceback; the registry retries either way, but the 500 is no refusal the docs list
    token = ingest_token(data_dir)
    log = tmp_path / "server.log"
    server = start_server(data_dir, log)
    spool, tmp = data_dir / "spool", data_dir / "tmp"
    try:
        big = json.dumps(
            envelope(*[pull_event(NOON, "acme/api", tag="1.0") for _ in range(400)])
        ).encode()
        assert len(big) > 64 * 1024  # spilled to tmp/ as it arrives
        for folder, body in ((spool, GOOD), (tmp, big)):
            moved = folder.with_name(folder.name + "-away")
            folder.rename(moved)
            folder.write_text("a file where the folder should be: every write in it fails")
            try:
                refused = post(server, token, body)
            finally:
                folder.unlink()
                moved.rename(folder)
            assert refused.status_code == 503, refused.text
            assert refused.json() == {
                "detail": "the envelope cannot be stored now (Not a directory): retry later"
            }
        assert post(server, token, GOOD).status_code == 200
        assert post(server, token, big).status_code == 200
    finally:
        server.stop()
    text = log.read_text()
    assert "Traceback" not in text
    assert text.count("ingest: the envelope cannot be stored: [Errno 20] Not a directory") == 2


def test_a_failed_spool_writer_is_a_503_to_retry(tmp_path: Path) -> None:
    # the spool writer failing unexpectedly (a bug, not a refused write) used to end its thread,
    # and every delivery after it waited for ever; now it refuses the appends waiting on it,
    # and their deliveries get the 503 a full disk gets, which the registry retries
    writer = SpoolWriter(tmp_path, segment_bytes=1 << 20)

    def failing(batch: object) -> None:
        raise RuntimeError("a bug")

    writer._write = failing  # type: ignore[method-assign]
    try:
        error = writer.submit(b"{}\n").exception(timeout=10)
    finally:
        writer.close()
    assert isinstance(error, OSError)
    answer = _not_stored(error)
    assert answer.status_code == 503
    detail = "the envelope cannot be stored now (spool writer failed: RuntimeError): retry later"
    assert json.loads(answer.body) == {"detail": detail}
