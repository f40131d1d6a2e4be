"""Reading the Distribution registry's own log (ingest/registry_log.py), on the lines a real
Distribution 2.8.2 wrote (``tests/fixtures/registry``: a push of an OCI image manifest ``app:v1``,
then a GET accepting OCI (200), a GET and a HEAD accepting only Docker's types (404: "OCI manifest
found, but accept header does not support OCI manifests") and a GET of an unknown tag (404),
with ``log.formatter`` text, then json)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pullstats.ingest.errors import UnparseableRequest
from pullstats.ingest.registry_log import Response, is_refused, parse_line
from pullstats.timestamps import micros

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "registry"


def responses(log: Path) -> list[Response]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        response = parse_line(line)
        if response is not None:
            found.append(response)
    return found


@pytest.mark.parametrize("formatter", ["text", "json"])
def test_the_manifest_responses_of_a_real_registry_log(formatter: str) -> None:
    found = responses(FIXTURES / f"distribution-2.8.2-{formatter}.log")
    # the push (PUT), the blob upload, the /v2/ ping and the access-log lines are not responses
    # to a manifest GET/HEAD; the four requests above are, in order
    assert [(r.method, r.name, r.reference, r.status) for r in found] == [
        ("GET", "app", "v1", 200),
        ("GET", "app", "v1", 404),
        ("HEAD", "app", "v1", 404),
        ("GET", "app", "nope", 404),
    ]
    assert [is_refused(r) for r in found] == [False, True, True, True]
    assert len({r.request_id for r in found}) == 4


def test_a_text_entry_field_by_field() -> None:
    line = (
        'time="2026-12-04T05:31:04.058915716Z" level=error msg="response completed with error" '
        'err.code="manifest unknown" go.version=go1.19.8 http.request.host="127.0.0.1:5055" '
        "http.request.id=defa71ea-1022-424e-b923-af2d7820d7c1 http.request.method=GET "
        'http.request.remoteaddr="127.0.0.1:46262" '
        'http.request.uri="/v2/acme/tools/cli/manifests/sha256:abcd?ns=docker.io" '
        'http.request.useragent="curl/7.88.1" http.response.status=404 http.response.written=122'
    )
    assert parse_line(line) == Response(
        "defa71ea-1022-424e-b923-af2d7820d7c1",
        micros(datetime(2026, 12, 4, 5, 31, 4, 58915, tzinfo=UTC)),  # nanoseconds cut to µs
        "GET",
        "acme/tools/cli",
        "sha256:abcd",
        404,
    )


@pytest.mark.parametrize(
    "line",
    [
        '127.0.0.1 - - [04/Dec/2026:05:31:04 +0000] "GET /v2/app/manifests/v1 HTTP/1.1" 404 122',
        'time="2026-12-04T05:31:04Z" level=info msg="configuring endpoint ps"',
        # a blob, a push, a tag list: not a manifest pull
        'time="2026-12-04T05:31:04Z" msg="response completed" http.request.id=a '
        "http.request.method=GET http.request.uri=/v2/app/blobs/sha256:ab http.response.status=404",
        'time="2026-12-04T05:31:04Z" msg="response completed" http.request.id=a '
        "http.request.method=PUT http.request.uri=/v2/app/manifests/v1 http.response.status=400",
        '{"msg":"response completed","http.request.method":"GET",'
        '"http.request.uri":"/v2/_catalog"}',
        "{not json",
        "[1, 2]",
        "",
    ],
)
def test_other_lines_are_not_responses(line: str) -> None:
    assert parse_line(line) is None


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            'time="2026-12-04T05:31:04Z" msg="response completed" http.request.method=GET '
            "http.request.uri=/v2/app/manifests/v1 http.response.status=404",
            "http.request.id",
        ),
        (
            'time="2026-12-04T05:31:04Z" msg="response completed" http.request.id=a '
            "http.request.method=GET http.request.uri=/v2/app/manifests/v1 "
            "http.response.status=four",
            "http.response.status",
        ),
        (
            '{"msg":"response completed","http.request.id":"a","http.request.method":"HEAD",'
            '"http.request.uri":"/v2/app/manifests/v1","http.response.status":true,'
            '"time":"2026-12-04T05:31:04Z"}',
            "http.response.status",
        ),
        (
            '{"msg":"response completed","http.request.id":"a","http.request.method":"GET",'
            '"http.request.uri":"/v2/app/manifests/v1","http.response.status":404}',
            "time",
        ),
        (
            '{"msg":"response completed","http.request.id":"a","http.request.method":"GET",'
            '"http.request.uri":"/v2/app/manifests/v1","http.response.status":404,'
            '"time":"yesterday"}',
            "timestamp",
        ),
    ],
)
def test_a_manifest_response_without_what_matching_needs_is_unreadable(
    line: str, problem: str
) -> None:
    with pytest.raises(UnparseableRequest, match=problem):
        parse_line(line)


def test_only_statuses_outside_2xx_are_refused() -> None:
    def answered(status: int) -> Response:
        return Response("a", 0, "GET", "app", "v1", status)

    assert [is_refused(answered(s)) for s in (200, 204, 299, 301, 304, 401, 404, 500)] == [
        False,
        False,
        False,
        True,
        True,
        True,
        True,
        True,
    ]
