"""Operations surfaces of a real server: health, metrics, OpenAPI and the landing page.

The tests that only ask share one server (``shared``); the one that breaks its data dir has
a server of its own.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server, server_of_its_own, start_server

#: one server for most of the module: under pytest-xdist every test of it runs on one worker
pytestmark = pytest.mark.xdist_group("ops")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose data dir no test changes; its log is ``server.log`` beside the data dir."""
    yield from server_of_its_own(tmp_path_factory, "ops")


def test_healthz_reports_a_usable_installation(shared: Server) -> None:
    with shared.client() as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"data_dir": "ok", "database": "ok"}}


def test_healthz_fails_when_the_data_dir_cannot_be_written(server: Server) -> None:
    tmp = server.data_dir / "tmp"
    shutil.rmtree(tmp)
    tmp.write_text("a file where the folder should be")
    with server.client() as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["data_dir"].startswith("error")
    assert body["checks"]["database"] == "ok"


def test_openapi_and_docs_describe_the_api(shared: Server) -> None:
    with shared.client() as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
    paths = spec["paths"]
    assert "/v2/users/login" in paths
    assert "/api/publisher/analytics/v1/namespaces/{namespace}/pulls" in paths
    assert "/ingest/v1/registry/events" in paths
    pulls = paths["/api/publisher/analytics/v1/namespaces/{namespace}/pulls"]["get"]
    params = {p["name"] for p in pulls["parameters"]}
    assert {"namespace", "timespan", "period", "group"} <= params
    assert {"200", "401", "404", "422"} <= set(pulls["responses"])
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def client_get(server: Server, path: str) -> httpx.Response:
    with server.client() as client:
        return client.get(path)


def test_landing_page_and_metrics(shared: Server) -> None:
    server = shared
    with server.client() as client:
        page = client.get("/")
        client.get("/healthz")
        client.get("/api/publisher/analytics/v1/namespaces/secret-ns/pulls")
        metrics = client.get("/metrics")
    # the dashboard asks for a session first, and comes back to / after
    assert page.status_code == 303 and page.headers["location"] == "/signin?next=%2F"
    signin = client_get(server, "/signin?next=%2F")
    assert signin.status_code == 200 and signin.headers["content-type"].startswith("text/html")
    assert "pullstats" in signin.text and 'name="secret"' in signin.text
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    # the fixture polled /healthz until the server answered, so the count is at least one
    served = re.search(
        r'^pullstats_http_requests_total\{method="GET",route="/healthz",status="200"\} (\d+)\.0$',
        text,
        re.MULTILINE,
    )
    assert served and int(served.group(1)) >= 1
    assert 'route="/api/publisher/analytics/v1/namespaces/{namespace}/pulls",status="401"' in text
    assert "pullstats_http_request_duration_seconds_bucket" in text
    assert "secret-ns" not in text


def test_the_access_log_is_opt_in_and_leaves_query_strings_out(shared: Server) -> None:
    signed = "/downloads/1/part.csv.gz?expires=1&signature=not-for-the-logs"
    with shared.client() as client:
        assert client.get(signed).status_code == 403
    quiet = (shared.data_dir.parent / "server.log").read_text()
    assert "/downloads/1" not in quiet  # off by default

    log = shared.data_dir.parent / "logged.log"
    logged = start_server(shared.data_dir, log, {"PULLSTATS_ACCESS_LOG": "true"})
    try:
        with logged.client() as client:
            assert client.get(signed).status_code == 403
    finally:
        logged.stop()
    text = log.read_text()
    line = r'pullstats\.access: 127\.0\.0\.1:\d+ - "GET /downloads/1/part\.csv\.gz HTTP/1\.1" 403'
    assert re.search(line, text), text
    assert "not-for-the-logs" not in text


def test_head_answers_what_get_answers_without_the_body(shared: Server) -> None:
    """RFC 9110: a load balancer's or a link checker's HEAD gets GET's status and headers."""
    pulls = "/api/publisher/analytics/v1/namespaces/acme/pulls"
    paths = ["/healthz", "/", "/signin", "/openapi.json", pulls, "/static/nothing.css"]
    with shared.client() as client:
        for path in paths:
            get, head = client.get(path), client.head(path)
            assert (head.status_code, head.content) == (get.status_code, b""), path
            assert head.headers.get("content-length") == get.headers.get("content-length"), path
            assert head.headers.get("content-type") == get.headers.get("content-type"), path
        # a route without GET still refuses HEAD, naming what it allows
        ingest = client.head("/ingest/v1/registry/events")
        metrics = client.get("/metrics").text
    assert ingest.status_code == 405 and ingest.headers["allow"] == "POST"
    # counted as HEAD, under the route that answered
    assert 'method="HEAD",route="/healthz",status="200"' in metrics
    assert f'method="HEAD",route="{pulls.replace("acme", "{namespace}")}",status="401"' in metrics
