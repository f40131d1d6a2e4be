"""Tests for the fields of a notification event: the client's address, the timestamp, the
repository name and reference, and an invalid event rejected with its index while the rest of
its envelope is kept."""

from __future__ import annotations

import ipaddress
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pullstats.ingest.errors import UnparseableRequest
from pullstats.ingest.notifications import (
    parse_address,
    parse_event,
    parse_timestamp,
)
from tests.ingest.notification_events import (
    DIGEST,
    RECEIVED_US,
    epoch_us,
    manifest_pull,
    only_record,
    parse,
    push,
)

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
        ("2026-10-05T14:44:26+14:00", datetime(2026, 10, 5, 0, 44, 26, tzinfo=UTC)),  # Kiribati
        ("2026-10-05T14:44:26-12:00", datetime(2026, 10, 6, 2, 44, 26, tzinfo=UTC)),
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
        # past any clock's offset, as access logs refuse it (datetime takes up to 23:59)
        "2026-10-05T14:44:26+15:00",
        "2026-10-05T14:44:26-23:59",
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
