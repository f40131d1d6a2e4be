"""Schemathesis against a real server: Docker's seed contract and our own ``/openapi.json``.

The seed is the snapshot of the facts of Docker's DVP OpenAPI document that
``scripts/contract_snapshot.py`` made (``tests/fixtures/contract/dvp-facts.json``). It documents
no 400/401/422, so it is held to the checks that do not judge status codes; our served document
is held to every check. The seed's few defects are repaired in an in-memory copy (see
:func:`repaired_seed`); none of the repairs loosens what a response is checked against.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import CHECKS, is_check_class, load_all_checks
from schemathesis.generation import GenerationMode
from schemathesis.schemas import BaseSchema

from pullstats.accounts import service
from pullstats.api.analytics import PREFIX
from pullstats.exports.closing import export_closed
from pullstats.ingest.records import PullRequestRecord
from pullstats.periods import last_complete_months
from pullstats.pipeline import end_of_day, process
from pullstats.timestamps import micros, now_micros
from tests.conftest import (
    Server,
    catalog_settings,
    examples,
    fresh_runtime,
    start_server,
    write_spool,
)

#: one server for the whole module: under pytest-xdist every test of it runs on one worker
pytestmark = pytest.mark.xdist_group("contract")

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "contract" / "dvp-facts.json"
LOGIN_PATHS = ("/v2/users/login", "/v2/users/2fa-login")
INGEST_PATH = "/ingest/v1/registry/events"


def no_null(ctx: CheckContext, response: Response, case: Case[Any]) -> None:
    """An absent field is omitted, never null, even where a schema allows null."""
    if "json" in (response.headers.get("content-type") or [""])[0]:
        assert not _holds_null(response.json()), f"null in {case.operation.label}: {response.text}"


def _holds_null(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_null(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_null(item) for item in value)
    return value is None


def has_data(value: Any) -> bool:
    """Whether a body holds something other than empty arrays and objects."""
    if isinstance(value, dict):
        return any(has_data(item) for item in value.values())
    if isinstance(value, list):
        return any(has_data(item) for item in value)
    return True


#: The checks the seed can judge: it documents no error statuses, so no status-code checks.
load_all_checks()
SEED_CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.negative_data_rejection,
    no_null,
]
#: Every built-in response check, for our own document.
ALL_CHECKS = [check for check in CHECKS.get_all() if not is_check_class(check)] + [no_null]

CONTRACT_SETTINGS = settings(
    max_examples=examples(30),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass(frozen=True)
class World:
    server: Server
    jwt: str
    ingest_token: str

    def headers(self, path: str) -> dict[str, str]:
        """The credential an operation takes: none to log in, the ingest token to ingest."""
        if path.startswith(PREFIX):
            return {"Authorization": f"Bearer {self.jwt}"}
        if path == INGEST_PATH:
            return {"Authorization": f"Bearer {self.ingest_token}"}
        return {}


def pull(n: int, when: datetime, name: str, ip: str = "192.0.2.1") -> PullRequestRecord:
    return PullRequestRecord(
        f"c{n}",
        micros(when),
        "GET",
        name,
        "1.0",
        "sha256:0d",
        ip,
        "docker/27.3.1",
        "x",
        now_micros(),
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """acme has pulls in a past closed week and in last month, both exported; alice reads it."""
    root = tmp_path_factory.mktemp("contract")
    data_dir = root / "data"
    runtime = fresh_runtime(catalog_settings(data_dir))
    today = datetime.now(UTC).date()
    last_month = last_complete_months(today, 1)[0]
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
        service.create_user(session, "alice", "alice-password")
        service.add_member(session, "acme", "alice", "member")
        ingest_token = service.create_ingest_token(session, "contract").text
    closed_week = datetime.combine(date(2024, 3, 6), time(12), UTC)  # Wednesday of 2024-W10
    month_start = datetime.combine(last_month, time(9), UTC)
    write_spool(
        runtime,
        pull(1, closed_week, "acme/api"),
        pull(2, closed_week + timedelta(hours=1), "acme/api", "192.0.2.2"),
        pull(3, month_start, "acme/tools/cli"),
        pull(4, month_start + timedelta(days=1), "acme/api", "192.0.2.3"),
    )
    process(runtime)
    export_closed(runtime, now=end_of_day(today))
    runtime.close()
    # fuzzed logins fail by the hundred; the limiter is tested elsewhere, not here
    limits = {
        "PULLSTATS_LOGIN_ATTEMPTS_PER_ACCOUNT": "100000",
        "PULLSTATS_LOGIN_ATTEMPTS_PER_IP": "100000",
    }
    server = start_server(data_dir, root / "server.log", limits)
    try:
        with server.client() as client:
            answer = client.post(
                "/v2/users/login", json={"username": "alice", "password": "alice-password"}
            )
            assert answer.status_code == 200, answer.text
            yield World(server, answer.json()["token"], ingest_token)
    finally:
        server.stop()


def repaired_seed(document: dict[str, Any], server_url: str) -> dict[str, Any]:
    """The seed with its defects fixed, pointed at ``server_url``; ``document`` is untouched."""
    seed = copy.deepcopy(document)
    # the scheme type is `http` (with scheme `bearer`); `https` is no type at all
    seed["components"]["securitySchemes"]["HubAuth"]["type"] = "http"
    # Docker's host → ours: the analytics routes live under the prefix, login at the root
    seed["servers"] = [{"url": server_url + PREFIX}]
    for path, item in seed["paths"].items():
        if path in LOGIN_PATHS:
            item["servers"] = [{"url": server_url}]
    # none of the members requires a field, so every body matches both: oneOf can never hold
    schemas = seed["components"]["schemas"]
    for name in ("TimespanModel", "TimespanData"):
        schemas[name]["anyOf"] = schemas[name].pop("oneOf")
    return seed


@pytest.fixture(scope="module")
def seed_schema(world: World) -> BaseSchema:
    document = json.loads(SEED.read_text())
    return schemathesis.openapi.from_dict(repaired_seed(document, world.server.url))


@pytest.fixture(scope="module")
def our_schema(world: World) -> BaseSchema:
    with world.server.client() as client:
        answer = client.get("/openapi.json")
    assert answer.status_code == 200
    schema = schemathesis.openapi.from_dict(answer.json())
    schema.config.update(base_url=world.server.url)
    return schema


seed_contract = schemathesis.pytest.from_fixture("seed_schema")
our_contract = schemathesis.pytest.from_fixture("our_schema")


@seed_contract.parametrize()
@CONTRACT_SETTINGS
def test_seed_contract(case: Case[Any], world: World) -> None:
    path = case.operation.path
    # the login operations go to their own declared server (the host root): no base_url
    login = path in LOGIN_PATHS
    response = case.call_and_validate(
        base_url=None if login else world.server.url + PREFIX,
        headers={} if login else world.headers(PREFIX + path),
        checks=SEED_CHECKS,
    )
    sent = urlsplit(response.request.url or "")
    assert f"{sent.scheme}://{sent.netloc}" == world.server.url
    if path in LOGIN_PATHS:
        assert sent.path == path
    else:
        assert sent.path.startswith(PREFIX + "/")


@our_contract.parametrize()
@CONTRACT_SETTINGS
def test_our_contract(case: Case[Any], world: World) -> None:
    headers = world.headers(case.operation.path)
    meta = case.meta
    negative = meta is not None and meta.generation.mode is GenerationMode.NEGATIVE
    if negative and not any(name.lower() == "authorization" for name in case.headers or {}):
        # a negative case whose violation may be the credential it lacks: adding ours would
        # make a request with nothing wrong, which the server rightly accepts
        headers = {}
    case.call_and_validate(headers=headers, checks=ALL_CHECKS)


def data_requests(world: World) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(analytics path, path parameters, query) of requests that answer with acme's data."""
    month = last_complete_months(datetime.now(UTC).date(), 1)[0]
    acme = {"namespace": "acme"}
    week_10 = {**acme, "year": 2024, "timespantype": "weeks", "timespan": 10}
    last = {**acme, "year": month.year, "timespantype": "months", "timespan": month.month}
    exports = "/namespaces/{namespace}/pulls/exports/years"
    return [
        ("/", {}, {}),
        ("/namespaces", {}, {}),
        ("/namespaces/{namespace}", acme, {}),
        ("/namespaces/{namespace}/pulls", acme, {}),
        ("/namespaces/{namespace}/pulls", acme, {"timespan": "weeks", "group": "repo"}),
        ("/namespaces/{namespace}/repos/{repo}/pulls", {**acme, "repo": "api"}, {}),
        ("/namespaces/{namespace}/repos/{repo}/pulls", {**acme, "repo": "tools/cli"}, {}),
        ("/repos/pulls", {}, {"repos": ["acme/api", "acme/tools/cli", "nobody/x"]}),
        (exports, acme, {}),
        (exports + "/{year}/{timespantype}", {**acme, "year": 2024, "timespantype": "weeks"}, {}),
        (exports + "/{year}/{timespantype}/{timespan}", week_10, {}),
        (exports + "/{year}/{timespantype}/{timespan}", last, {}),
        *(
            (
                exports + "/{year}/{timespantype}/{timespan}/{dataview}",
                {**week_10, "dataview": v},
                {},
            )
            for v in ("raw", "summary", "repo-summary", "namespace-summary")
        ),
        (exports + "/{year}/{timespantype}/{timespan}/{dataview}", {**last, "dataview": "raw"}, {}),
    ]


@pytest.mark.parametrize("document", ["seed", "ours"])
def test_answers_with_data_conform(
    document: str, world: World, request: pytest.FixtureRequest
) -> None:
    """Fuzzed names rarely exist, so the bodies with data are checked here, on known names."""
    seed = document == "seed"
    schema: BaseSchema = request.getfixturevalue("seed_schema" if seed else "our_schema")
    # the seed's paths are relative to the analytics prefix, ours are whole
    prefix, checks = ("", SEED_CHECKS) if seed else (PREFIX, ALL_CHECKS)
    base_url = world.server.url + PREFIX if seed else None
    for path, parameters, query in data_requests(world):
        case = schema[prefix + path]["GET"].Case(path_parameters=parameters, query=query)
        response = case.call_and_validate(
            base_url=base_url, headers=world.headers(PREFIX + path), checks=checks
        )
        assert response.status_code == 200, (path, parameters, response.text)
        assert has_data(response.json()), (path, parameters, response.text)
    login = schema["/v2/users/login"]["POST"].Case(
        body={"username": "alice", "password": "alice-password"}, media_type="application/json"
    )
    response = login.call_and_validate(checks=checks)
    assert response.status_code == 200 and response.json()["token"]


def test_downloads_and_ingest_with_data_conform(world: World, our_schema: BaseSchema) -> None:
    with world.server.client() as client:
        links = client.get(
            f"{PREFIX}/namespaces/acme/pulls/exports/years/2024/weeks/10/summary",
            headers=world.headers(PREFIX),
        ).json()["data"]
    assert links
    url = urlsplit(links[0]["url"])
    _, _, file_id, file_name = url.path.split("/")
    query = dict(part.split("=", 1) for part in url.query.split("&"))
    download = our_schema["/downloads/{file_id}/{file_name}"]["GET"].Case(
        path_parameters={"file_id": int(file_id), "file_name": file_name},
        query={"expires": int(query["expires"]), "signature": query["signature"]},
    )
    response = download.call_and_validate(checks=ALL_CHECKS)
    assert response.status_code == 200
    assert len(response.content) == links[0]["size"]
    envelope: dict[str, Any] = {
        "events": [
            {
                "id": "contract-1",
                "timestamp": "2024-03-06T12:00:00Z",
                "action": "pull",
                "target": {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "repository": "acme/api",
                    "digest": "sha256:" + "0" * 64,
                    "tag": "1.0",
                    "url": "http://registry/v2/acme/api/manifests/1.0",
                },
                "request": {"method": "GET", "addr": "192.0.2.9:5000", "useragent": "docker/27"},
            },
            {"id": "contract-2", "action": "push", "target": {"repository": "acme/api"}},
            "not an event",
        ]
    }
    ingest = our_schema[INGEST_PATH]["POST"].Case(body=envelope, media_type="application/json")
    response = ingest.call_and_validate(headers=world.headers(INGEST_PATH), checks=ALL_CHECKS)
    assert response.json() == {
        "accepted": 1,
        "ignored": {"push": 1},
        "rejected": [{"index": 2, "error": "event is not an object"}],
    }
    for path in ("/healthz", "/metrics"):
        response = our_schema[path]["GET"].Case().call_and_validate(checks=ALL_CHECKS)
        assert response.status_code == 200


def test_every_builtin_check_runs_on_our_document() -> None:
    names = {check.__name__ for check in ALL_CHECKS}
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "missing_required_header",
        "unsupported_method",
        "allow_header_conformance",
        "use_after_free",
        "ensure_resource_availability",
        "ignored_auth",
        "object_level_authorization",
    } <= names


def test_seed_repairs_leave_the_file_as_read() -> None:
    document = json.loads(SEED.read_text())
    before = copy.deepcopy(document)
    repaired = repaired_seed(document, "http://127.0.0.1:1")
    assert document == before
    assert repaired["components"]["securitySchemes"]["HubAuth"]["type"] == "http"
    assert repaired["paths"][LOGIN_PATHS[0]]["servers"] == [{"url": "http://127.0.0.1:1"}]
