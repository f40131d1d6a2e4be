"""Tests for ``ingest.notifications``: CNCF Distribution notification envelopes → spool records.

Events are written the way the registry sends them (distribution's ``notifications`` docs):
``id``, ``timestamp``, ``action``, ``target`` {mediaType, size, digest, length, repository, url,
tag}, ``request`` {id, addr, host, method, useragent}, ``actor`` and ``source``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pullstats.ingest.errors import InvalidEnvelope, UnparseableRequest, UnsupportedMediaType
from pullstats.ingest.notifications import (
    IGNORE_REASONS,
    EnvelopeResult,
    parse_address,
    parse_envelope,
    parse_event,
    parse_timestamp,
)
from pullstats.ingest.records import PullRequestRecord, spool_lines

V1 = "application/vnd.docker.distribution.events.v1+json"
V2 = "application/vnd.docker.distribution.events.v2+json"
#: 2027-01-15: after every event of these tests (one more than a day later is rejected)
RECEIVED_US = 1_800_000_000_000_000

DIGEST = "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf"
LAYER = "sha256:c04b14da8d1441880ed3fe6106fb2cc6fa1c9661846ac0266b8a5ec8edf37b7c"
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_UA = (
    "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0-45-generic os/linux arch/amd64 "
    "UpstreamClient(Docker-Client/27.3.1 \\(linux\\))"
)
REGISTRY = "registry.example.com"


def epoch_us(instant: datetime) -> int:
    """Microseconds since the epoch, computed independently of the code under test."""
    whole = int(instant.replace(microsecond=0).timestamp())
    return whole * 1_000_000 + instant.microsecond


def manifest_pull(
    *,
    event_id: str = "320678d8-ca14-430f-8bb6-4ca139cd83f7",
    timestamp: str = "2026-10-05T14:44:26.402973972Z",
    method: str = "GET",
    repository: str = "acme/web/app",
    tag: str | None = "1.0",
    digest: str = DIGEST,
    addr: str = "192.168.64.11:42961",
    useragent: str = DOCKER_UA,
    media_type: str = MANIFEST_V2,
) -> dict[str, Any]:
    """A manifest ``pull`` event as distribution sends it (by tag unless ``tag`` is None)."""
    target: dict[str, Any] = {
        "mediaType": media_type,
        "size": 708,
        "digest": digest,
        "length": 708,
        "repository": repository,
        "url": f"https://{REGISTRY}/v2/{repository}/manifests/{digest}",
    }
    if tag is not None:
        target["tag"] = tag
    return {
        "id": event_id,
        "timestamp": timestamp,
        "action": "pull",
        "target": target,
        "request": {
            "id": "6df24a34-0959-4923-81ca-14f09767db19",
            "addr": addr,
            "host": REGISTRY,
            "method": method,
            "useragent": useragent,
        },
        "actor": {},
        "source": {"addr": "registry-0:5000", "instanceID": "a53db899-3b4b-4a62-a067-8dd013beaca4"},
    }


def blob_pull() -> dict[str, Any]:
    event = manifest_pull(event_id="blob-1", tag=None, digest=LAYER)
    event["target"].update(
        mediaType="application/octet-stream",
        size=3_621_145,
        length=3_621_145,
        url=f"https://{REGISTRY}/v2/acme/web/app/blobs/{LAYER}",
    )
    return event


def push(event_id: str = "push-1") -> dict[str, Any]:
    event = manifest_pull(event_id=event_id, method="PUT")
    event["action"] = "push"
    event["actor"] = {"name": "ci-bot"}
    return event


def delete() -> dict[str, Any]:
    event = manifest_pull(event_id="delete-1", tag=None, method="DELETE")
    event["action"] = "delete"
    event["target"] = {"digest": DIGEST, "repository": "acme/web/app"}
    return event


def mount() -> dict[str, Any]:
    event = blob_pull()
    event.update(id="mount-1", action="mount")
    event["target"]["fromRepository"] = "acme/base"
    event["request"]["method"] = "POST"
    return event


def envelope(*events: Any) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def parse(*events: Any, content_type: str = V1) -> EnvelopeResult:
    return parse_envelope(envelope(*events), content_type, RECEIVED_US)


def only_record(outcome: PullRequestRecord | str) -> PullRequestRecord:
    assert isinstance(outcome, PullRequestRecord), outcome
    return outcome


# --- manifest pulls -------------------------------------------------------------------------


def test_manifest_pull_by_tag_with_get() -> None:
    result = parse(manifest_pull())
    assert result.ignored == Counter()
    assert result.rejected == []
    assert result.records == [
        PullRequestRecord(
            id="320678d8-ca14-430f-8bb6-4ca139cd83f7",
            ts=epoch_us(datetime(2026, 10, 5, 14, 44, 26, 402_973, tzinfo=UTC)),
            method="GET",
            name="acme/web/app",
            tag="1.0",
            digest=DIGEST,
            ip="192.168.64.11",
            ua=DOCKER_UA,
            src="notification",
            recv=RECEIVED_US,
            rid="6df24a34-0959-4923-81ca-14f09767db19",  # the event's request.id
        )
    ]


@pytest.mark.parametrize("method", ["HEAD", "head", "GET", "get"])
def test_manifest_pull_by_tag_with_head_or_get(method: str) -> None:
    record = only_record(parse_event(manifest_pull(method=method), RECEIVED_US))
    assert record.method == method.upper()
    assert record.tag == "1.0"
    assert record.digest == DIGEST


def test_manifest_pull_by_digest_has_no_tag() -> None:
    record = only_record(parse_event(manifest_pull(tag=None, media_type=OCI_INDEX), RECEIVED_US))
    assert record.tag == ""
    assert record.digest == DIGEST
    assert record.method == "GET"


def test_one_component_name_is_kept_as_the_registry_saw_it() -> None:
    # ``library/`` is added when namespaces are split, not at ingest.
    record = only_record(parse_event(manifest_pull(repository="hello-world"), RECEIVED_US))
    assert record.name == "hello-world"


def test_pull_without_url_is_a_manifest_when_its_media_type_is_one() -> None:
    event = manifest_pull(media_type="application/vnd.docker.distribution.manifest.list.v2+json")
    del event["target"]["url"]
    assert only_record(parse_event(event, RECEIVED_US)).tag == "1.0"


def test_user_agent_is_cut_to_1024_characters() -> None:
    record = only_record(parse_event(manifest_pull(useragent="x" * 5000), RECEIVED_US))
    assert record.ua == "x" * 1024


def test_missing_user_agent_is_empty() -> None:
    event = manifest_pull()
    del event["request"]["useragent"]
    assert only_record(parse_event(event, RECEIVED_US)).ua == ""


def test_record_line_is_one_json_object_per_line() -> None:
    record = only_record(parse_event(manifest_pull(), RECEIVED_US))
    line = record.to_line()
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert json.loads(line)["name"] == "acme/web/app"


# Any text but lone surrogates (those are rejected before a record exists, see below).
record_texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@given(
    texts=st.lists(record_texts, min_size=10, max_size=10),
    ts=st.integers(-(2**62), 2**62),
    recv=st.integers(0, 2**62),
)
def test_record_line_is_what_json_dumps_writes(texts: list[str], ts: int, recv: int) -> None:
    # compaction and demo/synthetic.py's to_spool_lines rely on this exact byte form; the
    # registry's request id is written only when there is one (demo spools have none)
    event_id, method, name, tag, digest, ip, ua, src, rid, user = texts
    record = PullRequestRecord(
        event_id, ts, method, name, tag, digest, ip, ua, src, recv, rid, user
    )
    fields = asdict(record)
    if not rid:
        del fields["rid"]
    expected = json.dumps(fields, separators=(",", ":"), ensure_ascii=False) + "\n"
    assert record.to_line() == expected.encode()
    assert spool_lines([record, record]) == expected.encode() * 2


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("6df24a34-0959-4923-81ca-14f09767db19", "6df24a34-0959-4923-81ca-14f09767db19"),
        ("", ""),
        (None, ""),
        (7, ""),  # not a string
        ("a b", ""),  # not an id a log line could hold
        ("x" * 129, ""),  # too long
    ],
)
def test_the_registry_request_id_is_kept_when_it_is_one(given: object, kept: str) -> None:
    event = manifest_pull()
    if given is None:
        del event["request"]["id"]
    else:
        event["request"]["id"] = given
    # an odd request id never costs the event: it only cannot be matched to the registry's log
    assert only_record(parse_event(event, RECEIVED_US)).rid == kept


@pytest.mark.parametrize(
    ("actor", "user"),
    [
        ({"name": "ci-bot"}, "ci-bot"),  # an authenticated pull
        ({}, ""),  # Distribution's anonymous pull
        (None, ""),  # no actor member at all
        ({"name": ""}, ""),
        ({"name": "é" * 256}, "é" * 256),  # USER_CHARS characters: as it is
        # longer: kept whole, as a SHA-256 (worked out here), so long names never merge
        ({"name": "é" * 300}, "sha256:" + hashlib.sha256(("é" * 300).encode()).hexdigest()),
    ],
)
def test_the_actor_is_the_authenticated_user(actor: dict[str, str] | None, user: str) -> None:
    event = manifest_pull()
    if actor is None:
        del event["actor"]
    else:
        event["actor"] = actor
    record = only_record(parse_event(event, RECEIVED_US))
    assert record.user == user
    assert json.loads(record.to_line())["user"] == user


@pytest.mark.parametrize("actor", ["ci-bot", ["ci-bot"], {"name": 7}])
def test_an_actor_of_the_wrong_shape_rejects_its_event(actor: object) -> None:
    event = manifest_pull()
    event["actor"] = actor
    with pytest.raises(UnparseableRequest, match=r"actor|name"):
        parse_event(event, RECEIVED_US)


def test_spool_lines_of_nothing_is_empty() -> None:
    assert spool_lines([]) == b""


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\uDC00x"])
@pytest.mark.parametrize("key", ["id", "useragent", "actor"])
def test_lone_surrogate_rejects_only_its_event(escape: str, key: str) -> None:
    # JSON may escape a lone surrogate; UTF-8 spool lines cannot hold one, so before this was
    # caught the whole delivery failed with a 500, and the registry retried it for ever
    bad = manifest_pull(event_id="bad", useragent="docker/27")
    placeholder = "@@PLACEHOLDER@@"
    if key == "id":
        bad["id"] = placeholder
    elif key == "actor":
        bad["actor"] = {"name": placeholder}
    else:
        bad["request"]["useragent"] = placeholder
    body = envelope(manifest_pull(event_id="ok-0"), bad, manifest_pull(event_id="ok-2"))
    body = body.replace(placeholder.encode(), escape.encode())
    result = parse_envelope(body, V1, RECEIVED_US)
    assert [r.id for r in result.records] == ["ok-0", "ok-2"]
    [(index, message)] = result.rejected
    assert index == 1
    assert "lone surrogate" in message
    spool_lines(result.records).decode()  # the rest is valid UTF-8


def test_paired_surrogate_escapes_are_one_character() -> None:
    body = envelope(manifest_pull(useragent="@@UA@@")).replace(b"@@UA@@", b"\\ud83d\\ude00")
    [record] = parse_envelope(body, V1, RECEIVED_US).records
    assert record.ua == "\U0001f600"
    assert json.loads(record.to_line())["ua"] == "\U0001f600"


# --- ignored events, by reason --------------------------------------------------------------


def test_blob_pull_is_ignored_as_blob_request() -> None:
    assert parse_event(blob_pull(), RECEIVED_US) == "blob_request"


def test_blob_pull_without_url_is_recognised_by_media_type() -> None:
    event = blob_pull()
    del event["target"]["url"]
    event["target"]["mediaType"] = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    assert parse_event(event, RECEIVED_US) == "blob_request"


@pytest.mark.parametrize(
    ("event", "reason"),
    [(push(), "push"), (delete(), "delete"), (mount(), "mount")],
    ids=["push", "delete", "mount"],
)
def test_other_actions_are_ignored_by_reason(event: dict[str, Any], reason: str) -> None:
    assert parse_event(event, RECEIVED_US) == reason


def test_unknown_action_is_other_action() -> None:
    event = manifest_pull()
    event["action"] = "tag"
    assert parse_event(event, RECEIVED_US) == "other_action"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_pull_with_another_method_is_ignored_as_method(method: str) -> None:
    assert parse_event(manifest_pull(method=method), RECEIVED_US) == "method"


def test_ignored_events_are_counted_by_reason() -> None:
    result = parse(push("p1"), manifest_pull(), blob_pull(), push("p2"), delete(), mount())
    assert [r.id for r in result.records] == ["320678d8-ca14-430f-8bb6-4ca139cd83f7"]
    assert result.ignored == Counter(push=2, blob_request=1, delete=1, mount=1)
    assert result.rejected == []
    assert set(result.ignored) <= set(IGNORE_REASONS)


# --- client addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addr", "ip"),
    [
        ("192.168.64.11:42961", "192.168.64.11"),
        ("10.0.0.7", "10.0.0.7"),
        ("[::1]:5000", "::1"),
        ("[2001:DB8:0:0::1]:443", "2001:db8::1"),  # normalised
        ("2001:db8::1", "2001:db8::1"),
        ("::1", "::1"),
        ("[::ffff:192.0.2.1]:5000", "192.0.2.1"),  # IPv4-mapped: the IPv4 client
    ],
)
def test_address_with_or_without_port(addr: str, ip: str) -> None:
    assert parse_address(addr) == ip
    assert only_record(parse_event(manifest_pull(addr=addr), RECEIVED_US)).ip == ip


@pytest.mark.parametrize(
    "addr", ["registry.local:5000", "[::1", "1.2.3:80", "300.1.1.1:80", "[]:80", "not an address"]
)
def test_bad_address_is_unparseable(addr: str) -> None:
    with pytest.raises(UnparseableRequest, match="invalid client address"):
        parse_address(addr)


def _reference_address(text: str) -> str | None:
    """What ipaddress makes of the host part, computed without the fast path."""
    host = text.strip()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return str(mapped or address)  # an IPv4-mapped address is its IPv4 client


dotted_quads = st.builds(
    lambda parts, port: ".".join(parts) + port,
    st.lists(
        st.integers(0, 999).map(str) | st.sampled_from(["00", "01", "007", "0255", "256", ""]),
        min_size=3,
        max_size=5,
    ),
    st.sampled_from(["", ":5000", ":", ":x"]),
)


@given(addr=dotted_quads | st.ip_addresses(v=4).map(str) | st.ip_addresses(v=6).map(str))
def test_address_agrees_with_ipaddress(addr: str) -> None:
    expected = _reference_address(addr)
    if expected is None:
        with pytest.raises(UnparseableRequest, match="invalid client address"):
            parse_address(addr)
    else:
        assert parse_address(addr) == expected


# --- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-10-05T14:44:26Z", datetime(2026, 10, 5, 14, 44, 26, tzinfo=UTC)),
        ("2026-10-05T14:44:26.5Z", datetime(2026, 10, 5, 14, 44, 26, 500_000, tzinfo=UTC)),
        ("2026-10-05T14:44:26.123456Z", datetime(2026, 10, 5, 14, 44, 26, 123_456, tzinfo=UTC)),
        # nanoseconds are truncated, never rounded up into the next second
        ("2026-10-05T14:44:26.999999999Z", datetime(2026, 10, 5, 14, 44, 26, 999_999, tzinfo=UTC)),
        ("2026-10-05T14:44:26.000000999Z", datetime(2026, 10, 5, 14, 44, 26, tzinfo=UTC)),
        # offsets move the instant to UTC, across a day and a year boundary
        ("2026-10-05T01:30:00.25+02:00", datetime(2026, 10, 4, 23, 30, 0, 250_000, tzinfo=UTC)),
        (
            "2016-03-09T14:44:26.402973972-08:00",
            datetime(2016, 3, 9, 22, 44, 26, 402_973, tzinfo=UTC),
        ),
        ("2025-12-31T22:00:00-05:00", datetime(2026, 1, 1, 3, 0, tzinfo=UTC)),
        ("2026-10-05t14:44:26z", datetime(2026, 10, 5, 14, 44, 26, tzinfo=UTC)),
        ("2026-10-05 14:44:26+00:00", datetime(2026, 10, 5, 14, 44, 26, tzinfo=UTC)),
        ("1969-12-31T23:59:59.5Z", datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)),
    ],
)
def test_timestamp(text: str, instant: datetime) -> None:
    assert parse_timestamp(text) == epoch_us(instant)


def test_event_timestamp_with_nanoseconds_and_offset() -> None:
    event = manifest_pull(timestamp="2026-01-01T00:59:59.999999999+01:00")
    record = only_record(parse_event(event, RECEIVED_US))
    assert record.ts == epoch_us(datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-05T14:44:26",  # no zone
        "2026-10-05",
        "2026-13-05T14:44:26Z",
        "2026-02-30T14:44:26Z",
        "2026-10-05T24:00:00Z",
        "2026-10-05T14:44:26.1234567890Z",  # more than nanoseconds
        "2026-10-05T14:44:26+0200",
        "2026-10-05T14:44:26+24:00",
        "Mon, 05 Oct 2026 14:44:26 GMT",
        "",
    ],
)
def test_bad_timestamp_is_unparseable(text: str) -> None:
    with pytest.raises(UnparseableRequest, match="invalid timestamp"):
        parse_timestamp(text)


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:00:00-02:00", "0001-01-01T00:30:00+02:00"], ids=["after", "before"]
)
def test_timestamp_outside_the_representable_range_is_unparseable(text: str) -> None:
    # Well-formed, but the instant in UTC falls outside what a datetime can hold.
    with pytest.raises(UnparseableRequest):
        parse_timestamp(text)


def test_out_of_range_timestamp_rejects_only_its_event() -> None:
    result = parse(manifest_pull(timestamp="9999-12-31T23:00:00-02:00"), manifest_pull())
    assert [index for index, _ in result.rejected] == [0]
    assert len(result.records) == 1


# --- content types --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        V1,
        V2,
        "application/json",
        f"{V1}; charset=utf-8",
        f"{V2}; charset=utf-8",
        "application/json; charset=utf-8",
        "Application/JSON",
    ],
)
def test_accepted_media_types(content_type: str) -> None:
    result = parse(manifest_pull(), content_type=content_type)
    assert len(result.records) == 1


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "", None]
)
def test_other_media_type_is_refused_as_unsupported(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType):
        parse_envelope(envelope(manifest_pull()), content_type, RECEIVED_US)


# --- envelopes that are not envelopes -------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"\xff\xfe{}",
        b'{"events": [',
        b"[]",
        b'"events"',
        b"null",
        b"{}",
        b'{"event": []}',
        b'{"events": {}}',
        b'{"events": "pull"}',
        b'{"events": null}',
    ],
)
def test_unusable_body_is_refused_as_not_an_envelope(body: bytes) -> None:
    with pytest.raises(InvalidEnvelope) as caught:
        parse_envelope(body, V1, RECEIVED_US)
    assert type(caught.value) is InvalidEnvelope  # neither too large nor of another media type


def test_empty_event_list_is_fine() -> None:
    result = parse_envelope(b'{"events": []}', V2, RECEIVED_US)
    assert result.records == []
    assert result.ignored == Counter()
    assert result.rejected == []


# --- invalid events among valid ones --------------------------------------------------------


def _without_id() -> dict[str, Any]:
    event = manifest_pull(event_id="x")
    del event["id"]
    return event


def _without_request() -> dict[str, Any]:
    event = manifest_pull(event_id="y")
    del event["request"]
    return event


def _without_reference() -> dict[str, Any]:
    event = manifest_pull(event_id="z", tag=None)
    del event["target"]["digest"]
    return event


def test_invalid_events_are_rejected_with_index_and_the_rest_kept() -> None:
    events: list[Any] = [
        manifest_pull(event_id="ok-0"),
        _without_id(),
        manifest_pull(event_id="bad-ts", timestamp="yesterday"),
        manifest_pull(event_id="ok-3", method="HEAD", addr="[::1]:5000"),
        manifest_pull(event_id="bad-name", repository="Acme/App"),
        manifest_pull(event_id="bad-addr", addr="registry.local:5000"),
        "not an event",
        push(),
        42,
        _without_request(),
        _without_reference(),
        manifest_pull(event_id="bad-tag", tag="-1.0"),
        manifest_pull(event_id="bad-digest", digest="sha256"),
        manifest_pull(event_id="ok-13", tag=None),
    ]
    result = parse(*events)
    assert [r.id for r in result.records] == ["ok-0", "ok-3", "ok-13"]
    assert result.ignored == Counter(push=1)
    messages = dict(result.rejected)
    assert list(messages) == [1, 2, 4, 5, 6, 8, 9, 10, 11, 12]
    assert "'id' is missing" in messages[1]
    assert "invalid timestamp" in messages[2]
    assert "invalid repository name" in messages[4]
    assert "invalid client address" in messages[5]
    assert messages[6] == messages[8] == "event is not an object"
    assert "'request' must be an object" in messages[9]
    assert "neither tag nor digest" in messages[10]
    assert "invalid tag" in messages[11]
    assert "invalid digest" in messages[12]


@pytest.mark.parametrize("key", ["id", "timestamp", "action"], ids=["id", "timestamp", "action"])
def test_required_member_of_the_wrong_type_is_unparseable(key: str) -> None:
    event = manifest_pull()
    event[key] = 12345
    with pytest.raises(UnparseableRequest, match=f"'{key}' must be a string"):
        parse_event(event, RECEIVED_US)


@pytest.mark.parametrize(
    "repository",
    [
        "Acme/app",
        "acme/App",
        "acme//app",
        "/acme/app",
        "acme/app/",
        "acme/-app",
        "acme/app_",
        "acme/app..x",
        "acme app",
        "",
        "a" * 256,
    ],
)
def test_invalid_repository_names_are_unparseable(repository: str) -> None:
    with pytest.raises(UnparseableRequest):
        parse_event(manifest_pull(repository=repository), RECEIVED_US)


@pytest.mark.parametrize(
    "repository",
    ["nginx", "acme/web/app", "my-org/my_app", "a.b/c__d", "registry-x/a---b", "a" * 255],
)
def test_valid_repository_names(repository: str) -> None:
    assert only_record(parse_event(manifest_pull(repository=repository), RECEIVED_US)).name == (
        repository
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("repository", "acme/app\n"),
        ("tag", "latest\n"),
        ("digest", f"{DIGEST}\n"),
        ("tag", "версия"),  # the reference grammar's \w is ASCII
    ],
    ids=["name-newline", "tag-newline", "digest-newline", "tag-non-ascii"],
)
def test_reference_grammar_is_matched_exactly(field: str, value: str) -> None:
    event = manifest_pull()
    event["target"][field] = value
    with pytest.raises(UnparseableRequest):
        parse_event(event, RECEIVED_US)


# --- properties -----------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def check_outcome(event: Any) -> None:
    try:
        outcome = parse_event(event, RECEIVED_US)
    except UnparseableRequest:
        return
    assert isinstance(outcome, PullRequestRecord) or outcome in IGNORE_REASONS


@given(event=json_values)
def test_parse_event_on_any_json_value_returns_or_raises_unparseable(event: Any) -> None:
    check_outcome(event)


@st.composite
def _mostly(draw: st.DrawFn, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
    """Seven times in eight a value from ``good``, else one from ``bad``."""
    if draw(st.integers(0, 7)) == 0:
        return draw(bad)
    return draw(good)


def _member(good: list[Any], bad: list[Any]) -> st.SearchStrategy[Any]:
    """A member value: mostly one of ``good``, sometimes one of ``bad`` or any JSON value."""
    return _mostly(st.sampled_from(good), st.sampled_from(bad) | json_values)


@st.composite
def _shaped(draw: st.DrawFn, members: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """An object with these members, sometimes one of them left out."""
    value = {key: draw(strategy) for key, strategy in members.items()}
    if draw(st.integers(0, 7)) == 0:
        del value[draw(st.sampled_from(sorted(members)))]
    return value


def timestamp_texts(years: st.SearchStrategy[int]) -> st.SearchStrategy[str]:
    """RFC 3339 text, mostly valid; a field is sometimes out of range (month 13, hour 24, …)."""
    return st.builds(
        lambda y, mo, d, h, mi, s, frac, zone: (
            f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{zone}"
        ),
        years,
        _mostly(st.integers(1, 12), st.sampled_from([0, 13])),
        _mostly(st.integers(1, 28), st.sampled_from([0, 29, 30, 31, 32])),
        _mostly(st.integers(0, 23), st.just(24)),
        _mostly(st.integers(0, 59), st.just(60)),
        _mostly(st.integers(0, 59), st.just(60)),
        st.sampled_from(["", ".5", ".123456789"]),
        st.sampled_from(
            ["Z", "+00:00", "+02:00", "-02:00", "+14:00", "-12:00", "+23:59", "-23:59"]
        ),
    )


_targets = _shaped(
    {
        "mediaType": _member([MANIFEST_V2, OCI_INDEX], ["application/octet-stream"]),
        "repository": _member(["acme/app", "nginx", "a/b/c"], ["Acme/app", "a//b", ""]),
        "tag": _member(["1.0", "latest", "v2.1-rc.1"], ["-x", "", "a" * 129]),
        "digest": _member([DIGEST, LAYER], ["sha256", "md5:", ""]),
        "url": _member([f"https://r/v2/a/manifests/{DIGEST}", ""], ["https://r/v2/a/blobs/x"]),
        "size": json_values,
    }
)
_requests = _shaped(
    {
        "method": _member(["GET", "HEAD", "head"], ["PUT", "POST", ""]),
        "addr": _member(["1.2.3.4:5", "[::1]:5000", "::1", "10.0.0.1"], ["[::1", "host:1"]),
        "useragent": _mostly(st.text(max_size=30), json_values),
    }
)


def nearly_valid_events(years: st.SearchStrategy[int]) -> st.SearchStrategy[dict[str, Any]]:
    """Events shaped like distribution's, each member sometimes missing, wrong or arbitrary."""
    return _shaped(
        {
            "id": _mostly(st.text(min_size=1, max_size=8), json_values),
            "timestamp": _mostly(timestamp_texts(years), st.text(max_size=30) | json_values),
            "action": _member(["pull", "pull", "pull", "push"], ["delete", "mount", "tag"]),
            "target": _mostly(_targets, json_values),
            "request": _mostly(_requests, json_values),
        }
    )


@pytest.mark.slow
@settings(max_examples=300)
@given(event=nearly_valid_events(st.integers(0, 9999)))
def test_parse_event_on_nearly_valid_events_returns_or_raises_unparseable(
    event: dict[str, Any],
) -> None:
    check_outcome(event)


# Years 1000-9000 keep clear of the datetime range edges, covered by the tests above.
@given(events=st.lists(nearly_valid_events(st.integers(1000, 9000)) | json_values, max_size=6))
def test_every_event_is_recorded_ignored_or_rejected(events: list[Any]) -> None:
    result = parse(*events)
    assert len(result.records) + sum(result.ignored.values()) + len(result.rejected) == len(events)
    assert [index for index, _ in result.rejected] == sorted({i for i, _ in result.rejected})


# --- timestamps: the per-minute fast path agrees with datetime ------------------------------

_WHOLE_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})", re.ASCII
)


def reference_timestamp(text: str) -> int | None:
    """The whole text through datetime (no per-minute reuse); None when it is invalid."""
    match = _WHOLE_TIMESTAMP.fullmatch(text)
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        instant = datetime.fromisoformat(f"{day}T{clock}{zone}").astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return epoch_us(instant) + int((fraction or "0")[:6].ljust(6, "0"))


def check_timestamp(text: str) -> None:
    expected = reference_timestamp(text)
    if expected is None:
        with pytest.raises(UnparseableRequest, match="invalid timestamp"):
            parse_timestamp(text)
    else:
        assert parse_timestamp(text) == expected


@settings(max_examples=500)
@given(text=timestamp_texts(st.integers(1, 9999)))
def test_timestamp_agrees_with_datetime(text: str) -> None:
    check_timestamp(text)


def test_every_second_of_a_cached_minute() -> None:
    for zone in ("Z", "+05:30", "-08:00"):
        for second in range(62):
            check_timestamp(f"2026-10-05T23:59:{second:02d}.25{zone}")
            check_timestamp(f"2026-10-05t23:59:{second:02d}{zone.lower()}")


def test_an_invalid_minute_stays_invalid_when_asked_again() -> None:
    for _ in range(3):
        for text in ("2026-02-30T10:00:00Z", "9999-12-31T23:59:30-02:00", "2026-10-05T24:00:00Z"):
            with pytest.raises(UnparseableRequest, match="invalid timestamp"):
                parse_timestamp(text)


def test_timestamps_stay_right_past_the_minute_cache_size() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(10_000):  # more distinct minutes than the cache holds
        instant = start + timedelta(minutes=n, seconds=n % 60)
        text = instant.astimezone(timezone(timedelta(hours=n % 3))).isoformat()
        assert parse_timestamp(text) == epoch_us(instant), text
