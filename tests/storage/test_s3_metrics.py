"""``/metrics`` with the lake on object storage whose store goes down, hangs, and comes back.

A scrape read the lake's gauges (``pullstats_set_aside_records``, ``pullstats_damaged_lake_files``)
by listing the lake, and a store that was down failed the whole scrape with a ``500`` and a
traceback in the log each time; one that took connections and never answered held each scrape
for twice ``PULLSTATS_S3_TIMEOUT``, past Prometheus's scrape timeout. Either way every metric
was lost during the outage. Now only the lake's two gauges are left out, and
``pullstats_lake_listing_ok`` says so. The store is ``moto_server`` behind the loopback proxy of
tests/storage/s3_proxy.py, which counts the requests and can cut, hold or refuse them.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pullstats.api.lake_listing import OVERDUE, RETRY_EVERY, SCRAPE_WAIT
from tests.conftest import Server, start_server
from tests.storage.conftest import S3Server, aws_env
from tests.storage.s3_proxy import S3Proxy, s3_proxy

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]

FAILED = "/metrics: the lake's listing failed"


def _set_aside_on_s3(s3: S3Server, bucket: str) -> None:
    """Three records set aside as ``invalid_record``, and one lake file set aside as damaged."""
    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": ["a", "b", "c"]}), buffer)
    client = s3.client()
    client.put_object(  # type: ignore[attr-defined]
        Bucket=bucket,
        Key="lake/set-aside/invalid_record/spool/part-0123.parquet",
        Body=buffer.getvalue(),
    )
    client.put_object(  # type: ignore[attr-defined]
        Bucket=bucket,
        Key="lake/set-aside/damaged-files/requests/day=2026-01-05/part-9.parquet",
        Body=b"not parquet",
    )


def _serve(proxy: S3Proxy, bucket: str, tmp_path: Path, **extra: str) -> Server:
    env = {
        **aws_env(proxy.endpoint),
        "PULLSTATS_LAKE_URL": f"s3://{bucket}/lake",
        "PULLSTATS_EXPORTS_URL": f"s3://{bucket}/exports",
        "PULLSTATS_SCHEDULE_INTERVAL": "0",
        **extra,
    }
    return start_server(tmp_path / "data", tmp_path / "server.log", env)


def _gauge(text: str, name: str) -> float | None:
    """The value of the unlabelled gauge ``name`` in a scrape, None when it is not there."""
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def _scrape_until(client: httpx.Client, done: Callable[[str], bool], seconds: float) -> str:
    """Scrape until ``done`` holds of a scrape (each answered ``200``); the last scrape."""
    deadline = time.monotonic() + seconds
    while True:
        response = client.get("/metrics")
        assert response.status_code == 200, response.text
        if done(response.text) or time.monotonic() > deadline:
            return response.text
        time.sleep(0.2)


def _listed(text: str) -> bool:
    return _gauge(text, "pullstats_lake_listing_ok") == 1


def _not_listed(text: str) -> bool:
    return _gauge(text, "pullstats_lake_listing_ok") == 0


def _lake_gauges_there(text: str) -> None:
    assert 'pullstats_set_aside_records{reason="invalid_record"} 3.0' in text
    assert 'pullstats_set_aside_records{reason="refused"} 0.0' in text
    assert _gauge(text, "pullstats_damaged_lake_files") == 1


def _only_the_lake_gauges_left_out(text: str) -> None:
    assert _gauge(text, "pullstats_lake_listing_ok") == 0
    assert not re.search(r"^(# TYPE )?pullstats_set_aside_records", text, re.MULTILINE)
    assert not re.search(r"^(# TYPE )?pullstats_damaged_lake_files", text, re.MULTILINE)
    # every other metric is still served
    assert 'pullstats_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "pullstats_node_live{" in text
    assert "pullstats_password_checks_running" in text


def test_a_store_that_goes_down_leaves_out_the_lake_gauges_only(
    s3_env: S3Server, tmp_path: Path
) -> None:
    bucket = s3_env.bucket()
    _set_aside_on_s3(s3_env, bucket)
    store = {"state": "up"}

    def rule(method: str, path: str) -> str:
        # "cut": every connection closes without an answer, as a store that goes away does
        return "forward" if store["state"] == "up" else "cut"

    with s3_proxy(s3_env.endpoint, rule) as proxy:
        server = _serve(proxy, bucket, tmp_path)
        try:
            with server.client() as client:
                text = _scrape_until(client, _listed, 30)
                _lake_gauges_there(text)

                store["state"] = "down"
                text = _scrape_until(client, _not_listed, 30)
                _only_the_lake_gauges_left_out(text)
                # scrapes go on through the outage, and listings with them (one every
                # RETRY_EVERY seconds at most): the failure is logged once, not per scrape
                stop = time.monotonic() + RETRY_EVERY + 2 * SCRAPE_WAIT
                while time.monotonic() < stop:
                    text = client.get("/metrics").text
                    _only_the_lake_gauges_left_out(text)
                    time.sleep(0.5)
                listings_while_down = [
                    request
                    for request in proxy.requests
                    if request.action == "cut" and "list-type=2" in request.path
                ]
                assert len(listings_while_down) >= 2  # listed again, not once for ever

                store["state"] = "up"  # back: so are the gauges
                text = _scrape_until(client, _listed, RETRY_EVERY + 30)
                _lake_gauges_there(text)

                proxy.go_down()  # then gone: every connection refused
                text = _scrape_until(client, _not_listed, 30)
                _only_the_lake_gauges_left_out(text)
        finally:
            server.stop()
    log = (tmp_path / "server.log").read_text()
    assert "ERROR" not in log and "Traceback" not in log, log
    # one line per outage, naming the store and its endpoint, never the credentials
    failures = [line for line in log.splitlines() if FAILED in line]
    assert len(failures) == 2, log
    assert all(line.startswith("WARNING") for line in failures), failures
    assert f"PULLSTATS_LAKE_URL=s3://{bucket}/lake" in failures[0]
    assert f"{proxy.endpoint} cannot be reached" in failures[1]
    assert log.count("/metrics: the lake's listing works again") == 1
    assert "AWS_SECRET_ACCESS_KEY=" not in log


def test_a_store_that_never_answers_holds_no_scrape(s3_env: S3Server, tmp_path: Path) -> None:
    # the reviewer's blackhole: with PULLSTATS_S3_TIMEOUT=PT5S a scrape answered 500 after 11 s
    # (30 s: a minute); here the store takes the listing's requests and never answers them
    bucket = s3_env.bucket()
    _set_aside_on_s3(s3_env, bucket)

    def rule(method: str, path: str) -> str:
        # the listings of set-aside/ (the server's start lists the lake's root: answered)
        listing = "list-type=2" in path and "prefix=lake%2Fset-aside" in path
        return "hold" if method == "GET" and listing else "forward"

    timeout = 8  # each of the listing's 2 attempts waits this long for an answer
    with s3_proxy(s3_env.endpoint, rule) as proxy:
        server = _serve(proxy, bucket, tmp_path, PULLSTATS_S3_TIMEOUT=f"PT{timeout}S")
        try:
            with server.client() as client:
                started = time.monotonic()
                first, second = client.get("/metrics"), client.get("/metrics")
                took = time.monotonic() - started
                held = proxy.count("hold")
                for response in (first, second):
                    assert response.status_code == 200, response.text
                    _only_the_lake_gauges_left_out(response.text)
                # the second scrape found the first's listing still running, and started none:
                # one request held, not one per scrape (the first's retry comes after `timeout`)
                assert took < timeout, took
                assert held == 1
                # the listing ends once botocore gives up (2 × timeout): logged then, once
                deadline = time.monotonic() + 2 * timeout + OVERDUE + 30
                while FAILED not in (tmp_path / "server.log").read_text():
                    assert time.monotonic() < deadline
                    response = client.get("/metrics")
                    assert response.status_code == 200
                    _only_the_lake_gauges_left_out(response.text)
                    time.sleep(0.5)
        finally:
            server.stop()
    log = (tmp_path / "server.log").read_text()
    assert "ERROR" not in log and "Traceback" not in log, log
    failures = [line for line in log.splitlines() if FAILED in line]
    assert len(failures) == 1, log
    assert f"within PULLSTATS_S3_TIMEOUT=PT{timeout}S" in failures[0], failures
