"""Tests for ``ingest.notifications``: CNCF Distribution notification envelopes → spool records.

Pulls become records, other events are ignored by reason, and media types and bodies that are
not envelopes are refused. The events are built in :mod:`tests.ingest.notification_events`; an
event's fields (addresses, timestamps, names, references, invalid events among valid ones) are
tested in ``test_notification_fields.py``, generated events in
``test_notification_properties.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pullstats.ingest.errors import InvalidEnvelope, UnparseableRequest, UnsupportedMediaType
from pullstats.ingest.notifications import (
    IGNORE_REASONS,
    parse_envelope,
    parse_event,
)
from pullstats.ingest.records import PullRequestRecord, spool_lines
from tests.ingest.notification_events import (
    DIGEST,
    DOCKER_UA,
    OCI_INDEX,
    RECEIVED_US,
    V1,
    V2,
    blob_pull,
    delete,
    envelope,
    epoch_us,
    manifest_pull,
    mount,
    only_record,
    parse,
    push,
)

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
