"""Every path answers with or without its trailing slash, in place: never a redirect.

Starlette's ``redirect_slashes`` answered ``POST /v2/users/login/`` with ``307 location:
http://stats.example.com/v2/users/login`` behind a TLS proxy (``PULLSTATS_PUBLIC_URL`` is
``https://…``, and the server reads no ``X-Forwarded-Proto``): a client following it sent the
password again, in the clear. Here a real server with ``PULLSTATS_PUBLIC_URL`` set is asked
as the proxy would ask it (``Host: stats.example.com``), every documented route in both forms.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from pullstats.accounts import service
from tests.conftest import Server, catalog_settings, fresh_runtime, start_server

#: one server for the whole module: under pytest-xdist every test of it runs on one worker
pytestmark = pytest.mark.xdist_group("trailing-slash")

PUBLIC = "https://stats.example.com"
HOST = {"Host": "stats.example.com"}
API = "/api/publisher/analytics/v1"
LOGIN = {"username": "alice", "password": "alice-password"}

#: a value for each path parameter of the OpenAPI document
VALUES = {
    "namespace": "acme",
    "repo": "tools/cli",
    "year": "2020",
    "timespantype": "weeks",
    "timespan": "53",
    "dataview": "raw",
    "dataset": "summary",
    "file_id": "1",
    "file_name": "acme.csv.gz",
}
#: the dashboard's pages (not in the OpenAPI document; docs/api.md lists them)
PAGES = ["/signin", "/exports", "/account", "/static/dashboard.css", "/signout"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """alice, a member of acme, on a server whose public URL is https://stats.example.com."""
    root = tmp_path_factory.mktemp("slash")
    runtime = fresh_runtime(catalog_settings(root / "data"))
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
        service.create_user(session, "alice", LOGIN["password"])
        service.add_member(session, "acme", "alice", "member")
    runtime.close()
    srv = start_server(root / "data", root / "server.log", {"PULLSTATS_PUBLIC_URL": PUBLIC})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def token(server: Server) -> str:
    with server.client() as client:
        answer = client.post("/v2/users/login", json=LOGIN, headers=HOST)
    value: str = answer.json()["token"]
    return value


def client_of(server: Server, token: str | None = None) -> httpx.Client:
    """A client that follows no redirect, asking as the TLS proxy in front would."""
    headers = HOST | ({"Authorization": f"Bearer {token}"} if token else {})
    return httpx.Client(base_url=server.url, headers=headers, timeout=30, follow_redirects=False)


def test_a_login_at_its_path_with_a_slash_is_answered_there(server: Server) -> None:
    with client_of(server) as client:
        answer = client.post("/v2/users/login/", json=LOGIN)
        assert answer.status_code == 200, (answer.status_code, answer.headers)
        assert "location" not in answer.headers
        assert answer.json()["token"].count(".") == 2  # a JWT
        wrong = client.post("/v2/users/login//", json=LOGIN | {"password": "wrong"})
        assert (wrong.status_code, wrong.json()) == (
            401,
            {"detail": "Incorrect authentication credentials"},
        )
        second = client.post("/v2/users/2fa-login/", json={"login_2fa_token": "x", "code": "1"})
        assert second.status_code == 401 and "location" not in second.headers
        # the registries' route too, refused as at its own path (no token)
        ingest = client.post("/ingest/v1/registry/events/", json={"events": []})
        assert (ingest.status_code, ingest.json()) == (
            401,
            {"detail": "ingest token required: Authorization: Bearer psi_…"},
        )
        metrics = client.get("/metrics").text
    # counted under the route that answered, not as an unmatched path
    assert re.search(
        r'pullstats_http_requests_total\{method="POST",route="/v2/users/login",status="200"\}',
        metrics,
    )


def documented_paths(server: Server) -> list[str]:
    """Every GET path of the served OpenAPI document, its parameters filled in."""
    with client_of(server) as client:
        document = client.get("/openapi.json").json()
    paths = []
    for template, operations in document["paths"].items():
        if "get" in operations:
            paths.append(re.sub(r"\{(\w+)\}", lambda m: VALUES[m.group(1)], template))
    return paths


def other_forms(path: str) -> list[str]:
    """``path`` and its other form: without its trailing slashes, or with one."""
    return [path, path.rstrip("/") if path.endswith("/") else f"{path}/"]


def no_redirect_elsewhere(form: str, answer: httpx.Response) -> None:
    location = answer.headers.get("location", "")
    # a route's own redirect (the dashboard's) is to a path of this server, never a URL
    assert not location.startswith(("http:", "https:", "//")), (form, location)
    assert answer.status_code not in (307, 308), (form, location)


def test_every_documented_path_answers_the_same_with_and_without_a_slash(
    server: Server, token: str
) -> None:
    paths = documented_paths(server)
    assert f"{API}/" in paths and "/v2/users/login" not in paths  # GET only
    assert len(paths) >= 15, paths
    with client_of(server, token) as client:
        for path in paths:
            forms = other_forms(path)
            first, other = answers = [client.get(form) for form in forms]
            for form, answer in zip(forms, answers, strict=True):
                no_redirect_elsewhere(form, answer)
            assert first.status_code == other.status_code, forms
            if first.headers.get("content-type") == "application/json":
                assert first.json() == other.json(), forms


def test_the_dashboards_pages_never_redirect_elsewhere(server: Server) -> None:
    with client_of(server) as client:
        for path in [*PAGES, "/"]:
            for form in other_forms(path) if path != "/" else ["/"]:
                no_redirect_elsewhere(form, client.get(form))
        # a page answers at its other form as at its own
        for path in ("/signin", "/static/dashboard.css"):
            first, other = (client.get(form) for form in other_forms(path))
            assert (first.status_code, first.content) == (other.status_code, other.content)
            assert first.status_code == 200
        exports = client.get("/exports/")
        assert (exports.status_code, exports.headers["location"]) == (
            303,
            "/signin?next=%2Fexports",
        )


def test_discovery_without_its_slash_is_discovery(server: Server, token: str) -> None:
    with client_of(server, token) as client:
        bare = client.get(API)
        slash = client.get(f"{API}/")
    assert (bare.status_code, bare.json()) == (200, {"namespaces": []})
    assert (slash.status_code, slash.json()) == (200, {"namespaces": []})
    assert bare.headers["etag"] == slash.headers["etag"]  # one answer, one cache entry


def test_a_path_no_route_has_in_either_form_is_404(server: Server, token: str) -> None:
    with client_of(server, token) as client:
        for path in ("/nope", "/nope/", f"{API}/nope/", "/v2/users/login/x/"):
            answer = client.get(path)
            assert (answer.status_code, answer.json()) == (404, {"detail": "Not Found"}), path


def test_the_ingest_route_keeps_its_own_body_bound_with_any_trailing_slashes(
    server: Server,
) -> None:
    # 2 MiB: past the 1 MiB every other route takes, within the ingest route's own bound
    body = b'{"events": [], "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    answers = {}
    with client_of(server) as client:
        for path in (
            "/ingest/v1/registry/events",
            "/ingest/v1/registry/events/",
            "/ingest/v1/registry/events//",
        ):
            answer = client.post(path, content=body, headers={"Content-Type": "application/json"})
            answers[path] = (answer.status_code, answer.json()["detail"])
    # each refused as at its own path, for want of a token, not as a body too large
    assert set(answers.values()) == {(401, "ingest token required: Authorization: Bearer psi_…")}, (
        answers
    )
