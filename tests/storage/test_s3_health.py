"""``/healthz`` with the lake and the exports on object storage: each store is checked (one
``HEAD`` of its description file, reused for a few seconds), and a store that is down makes the
answer ``503``, so that a load balancer takes the server out. The store is ``moto_server`` behind
the loopback proxy of tests/storage/s3_proxy.py, which counts the requests and can go down."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pullstats.api.store_checks import CHECK_EVERY, StoreChecks
from pullstats.runtime import Runtime
from pullstats.storage import LocalStore
from tests.conftest import catalog_settings, start_server
from tests.storage.conftest import S3Server, aws_env
from tests.storage.s3_proxy import S3Proxy, s3_proxy

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]


def _heads(proxy: S3Proxy) -> list[str]:
    return [request.path for request in proxy.requests if request.method == "HEAD"]


def test_a_store_check_is_one_head_reused_for_a_few_seconds(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_env.bucket()
    monkeypatch.setenv("PULLSTATS_LAKE_URL", f"s3://{bucket}/lake")
    monkeypatch.setenv("PULLSTATS_EXPORTS_URL", f"s3://{bucket}/exports")
    Runtime.open(catalog_settings(tmp_path / "data")).close()  # the stores' description files
    now = [0.0]
    checks = StoreChecks(clock=lambda: now[0])
    with s3_proxy(s3_env.endpoint, lambda method, path: "forward") as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        settings = catalog_settings(tmp_path / "data")  # stores whose requests go through it
        stores = (settings.lake, settings.exports_store)
        ok = {"lake": "ok", "exports": "ok"}
        for _ in range(5):  # a flood of probes: one request per store
            assert checks.results(*stores) == ok
        assert _heads(proxy) == [f"/{bucket}/lake/_meta.json", f"/{bucket}/exports/_exports.json"]
        now[0] += CHECK_EVERY - 0.1
        assert checks.results(*stores) == ok
        assert len(_heads(proxy)) == 2
        now[0] += 0.1  # then asked again
        assert checks.results(*stores) == ok
        assert len(_heads(proxy)) == 4

        proxy.go_down()
        assert checks.results(*stores) == ok  # still the last check's
        now[0] += CHECK_EVERY
        failed = {
            "lake": "error: EndpointConnectionError",
            "exports": "error: EndpointConnectionError",
        }
        assert checks.results(*stores) == failed
        assert checks.results(*stores) == failed  # reused too: no request while down either
    # a store in a local folder is not checked here (/healthz writes to the data dir's disk)
    local = LocalStore(tmp_path / "lake", "PULLSTATS_LAKE_URL")
    assert StoreChecks().results(local, LocalStore(tmp_path / "x", "PULLSTATS_EXPORTS_URL")) == {}


def test_healthz_answers_503_once_the_store_is_down(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_env.bucket()
    stores = {
        "PULLSTATS_LAKE_URL": f"s3://{bucket}/lake",
        "PULLSTATS_EXPORTS_URL": f"s3://{bucket}/exports",
    }
    with s3_proxy(s3_env.endpoint, lambda method, path: "forward") as proxy:
        env = {**aws_env(proxy.endpoint), **stores, "PULLSTATS_SCHEDULE_INTERVAL": "0"}
        server = start_server(tmp_path / "data", tmp_path / "server.log", env)
        try:
            with server.client() as client:
                response = client.get("/healthz")
                assert response.status_code == 200
                assert response.json() == {
                    "status": "ok",
                    "checks": {"data_dir": "ok", "database": "ok", "lake": "ok", "exports": "ok"},
                }
                proxy.go_down()
                # the last check answers for a few seconds more: asked until it is done again
                deadline = time.monotonic() + 10 * CHECK_EVERY
                while response.status_code == 200 and time.monotonic() < deadline:
                    time.sleep(0.2)
                    response = client.get("/healthz")
        finally:
            server.stop()
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["data_dir"] == body["checks"]["database"] == "ok"
    assert body["checks"]["lake"].startswith("error: "), body
    assert body["checks"]["exports"].startswith("error: "), body
    # the kind of failure only: /healthz answers anyone; the log names the store
    assert bucket not in response.text and proxy.endpoint not in response.text
    log = (tmp_path / "server.log").read_text()
    assert "/healthz: the lake store failed its check" in log
    assert f"PULLSTATS_LAKE_URL=s3://{bucket}/lake" in log


def test_a_deleted_bucket_fails_the_check(
    s3_env: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # S3 answers a HEAD of a deleted bucket's key with a bare 404, the answer for a missing key:
    # the check passed a bucket deleted under a running server (the downloads and jobs failed)
    bucket, other = s3_env.bucket(), s3_env.bucket()
    monkeypatch.setenv("PULLSTATS_LAKE_URL", f"s3://{bucket}/lake")
    monkeypatch.setenv("PULLSTATS_EXPORTS_URL", f"s3://{other}/exports")
    settings = catalog_settings(tmp_path / "data")
    Runtime.open(settings).close()  # the stores' description files, as a starting server
    stores = (settings.lake, settings.exports_store)
    assert StoreChecks(every=0).results(*stores) == {"lake": "ok", "exports": "ok"}
    s3 = s3_env.client()
    for key in s3_env.keys(bucket):
        s3.delete_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
    s3.delete_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    s3.delete_object(Bucket=other, Key="exports/_exports.json")  # type: ignore[attr-defined]
    with caplog.at_level("WARNING", logger="pullstats.api.store_checks"):
        results = StoreChecks(every=0).results(*stores)
    assert results == {"lake": "error: FileNotFoundError", "exports": "error: FileNotFoundError"}
    assert (
        f"PULLSTATS_LAKE_URL=s3://{bucket}/lake: its _meta.json is not there at "
        f"{s3_env.endpoint} (nor, perhaps, the bucket): the store's files are gone since the "
        "server started; restore them, or point PULLSTATS_LAKE_URL at the installation's store"
    ) in caplog.text
    assert f"PULLSTATS_EXPORTS_URL=s3://{other}/exports: its _exports.json is not there" in (
        caplog.text
    )


def test_a_store_that_does_not_answer_the_check_is_said_so_with_the_checks_own_wait(
    s3_env: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the log line gave the jobs' PULLSTATS_S3_TIMEOUT and its two requests, and said to raise
    # it: the check sends one request and waits PROBE_TIMEOUT, whatever that setting says
    bucket = s3_env.bucket()
    monkeypatch.setenv("PULLSTATS_LAKE_URL", f"s3://{bucket}/lake")
    monkeypatch.setenv("PULLSTATS_EXPORTS_URL", f"s3://{bucket}/exports")
    Runtime.open(catalog_settings(tmp_path / "data")).close()
    with s3_proxy(s3_env.endpoint, lambda method, path: "hold") as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        monkeypatch.setenv("PULLSTATS_S3_TIMEOUT", "PT30S")
        settings = catalog_settings(tmp_path / "data")
        with caplog.at_level("WARNING", logger="pullstats.api.store_checks"):
            results = StoreChecks(every=0).results(settings.lake, settings.exports_store)
    assert results == {"lake": "error: ReadTimeoutError", "exports": "error: ReadTimeoutError"}
    assert (
        f"PULLSTATS_LAKE_URL=s3://{bucket}/lake: no answer from AWS_ENDPOINT_URL "
        f"{proxy.endpoint} within PT2S: check that S3 server"
    ) in caplog.text
    assert "PULLSTATS_S3_TIMEOUT" not in caplog.text
