"""CNCF Distribution (and GitLab registry) notification envelopes → spool records.

Pure parsing, no I/O: :func:`parse_envelope` takes the body and returns the manifest pull
requests it holds, the events it ignores (by reason) and the events it rejects (with why).
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pullstats.drop_reasons import DropReason
from pullstats.ingest.errors import (
    EnvelopeTooLarge,
    InvalidEnvelope,
    UnparseableRequest,
    UnsupportedMediaType,
)
from pullstats.ingest.records import PullRequestRecord, user_name
from pullstats.ingest.time_window import TimeWindow
from pullstats.names import repository_problem
from pullstats.timestamps import micros

ENVELOPE_MEDIA_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.events.v1+json",
        "application/vnd.docker.distribution.events.v2+json",
        "application/json",
    }
)

MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    }
)

#: Why an event that is valid is still not a manifest pull request.
IGNORE_REASONS = ("push", "delete", "mount", "other_action", "blob_request", "method")

# Patterns are matched whole (fullmatch) and ASCII-only: the registry grammar allows no other
# characters, and "$" alone would let a trailing newline through.
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})",
    re.ASCII,
)
#: The furthest any clock is set from UTC (Kiribati, +14:00), as ``HHMM``: an offset past it
#: (+14:01 too) or with minutes past 59 is refused, by notifications and access logs alike
#: (:func:`utc_offset_allowed`, :func:`utc_offset_sql`).
MAX_UTC_OFFSET = "1400"
DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+", re.ASCII)
TAG = re.compile(r"\w[\w.-]{0,127}", re.ASCII)
#: The longest event id kept: a registry's are UUIDs; the record rules set aside a longer one.
MAX_ID_LENGTH = 512
#: A registry's id of a request (Distribution: a UUID), as ``request.id`` and its log give it.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", re.ASCII)
#: An IPv4 address in the form ipaddress would print it (no leading zeros): kept as it is,
#: without building an address object; anything else goes through ipaddress. RE2-compatible
#: (the access-log import finds the addresses to normalise with it).
CANONICAL_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)", re.ASCII
)
# the first 12 bytes of an IPv4-mapped (::ffff:a.b.c.d) and an IPv4-compatible (::a.b.c.d) IPv6
_IPV4_MAPPED = bytes(10) + b"\xff\xff"
_IPV4_COMPATIBLE = bytes(12)
#: Events one envelope may hold by default (``PULLSTATS_INGEST_MAX_EVENTS``). Distribution and
#: GitLab's registry send one event per delivery; old Distribution versions batched a few.
DEFAULT_MAX_EVENTS = 10_000
#: How far ahead of the server clock an event may be by default (``PULLSTATS_MAX_CLOCK_SKEW``).
DEFAULT_MAX_SKEW = timedelta(days=1)
#: The actions ignored under a reason of their own; any other under ``other_action``.
_IGNORED_ACTIONS = {
    DropReason.PUSH.value: DropReason.PUSH,
    DropReason.DELETE.value: DropReason.DELETE,
    DropReason.MOUNT.value: DropReason.MOUNT,
}
_PULL_METHODS = frozenset({"GET", "HEAD"})

#: The UTC instant (µs) of a timestamp's minute, by its text up to the minute plus its zone;
#: None for a minute that does not exist or lies outside datetime's range. Bounded by clearing.
_MINUTE_STARTS: dict[str, int | None] = {}
_MINUTE_CACHE_SIZE = 4096


@dataclass
class EnvelopeResult:
    records: list[PullRequestRecord] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    #: the rejected events counted by reason (``UnparseableRequest.reason``)
    rejected_reasons: Counter[str] = field(default_factory=Counter)


def check_media_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in ENVELOPE_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"unsupported content type {media_type or '(none)'!r}; send one of "
            + ", ".join(sorted(ENVELOPE_MEDIA_TYPES))
        )


def parse_envelope(
    body: bytes,
    content_type: str | None,
    received_us: int,
    *,
    max_events: int = DEFAULT_MAX_EVENTS,
    window: TimeWindow | None = None,
) -> EnvelopeResult:
    """Parse one delivery; :class:`InvalidEnvelope` when the body as a whole is unusable.

    ``window`` is the request times accepted; by default from 2000-01-01 to a day past
    ``received_us``.
    """
    check_media_type(content_type)
    return parse_events(envelope_events(body, max_events), received_us, window)


def envelope_events(body: bytes, max_events: int) -> list[Any]:
    """The ``events`` array of a body; :class:`InvalidEnvelope` when it is not an envelope
    (:class:`EnvelopeTooLarge` past ``max_events`` events)."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidEnvelope(f"body is not JSON: {error}") from None
    except RecursionError:
        raise InvalidEnvelope("body is not a notification envelope: nested too deeply") from None
    except ValueError:  # int() refuses more digits than sys.get_int_max_str_digits()
        raise InvalidEnvelope(
            "body is not a notification envelope: it holds a number with too many digits"
        ) from None
    if not isinstance(document, dict) or "events" not in document:
        raise InvalidEnvelope("body is not a notification envelope: no 'events' member")
    events = document["events"]
    if not isinstance(events, list):
        raise InvalidEnvelope("body is not a notification envelope: 'events' must be an array")
    if len(events) > max_events:
        raise EnvelopeTooLarge(
            f"envelope holds {len(events)} events, more than the {max_events} allowed "
            "(PULLSTATS_INGEST_MAX_EVENTS); send them in smaller envelopes",
        )
    return events


def parse_events(
    events: list[Any], received_us: int, window: TimeWindow | None = None
) -> EnvelopeResult:
    """The events of an envelope, each a record, ignored (with why) or rejected (with why)."""
    window = window or TimeWindow.at(received_us, DEFAULT_MAX_SKEW)
    result = EnvelopeResult()
    for index, event in enumerate(events):
        try:
            outcome = parse_event(event, received_us, window)
        except UnparseableRequest as error:
            result.rejected.append((index, str(error)))
            result.rejected_reasons[error.reason] += 1
            continue
        if isinstance(outcome, str):
            result.ignored[outcome] += 1
        else:
            result.records.append(outcome)
    return result


def parse_event(
    event: Any, received_us: int, window: TimeWindow | None = None
) -> PullRequestRecord | DropReason:
    """One event → a record, or the reason it is ignored; UnparseableRequest if malformed or
    timed outside ``window`` (default: 2000-01-01 to a day past ``received_us``)."""
    # This runs once per event on the ingest request path, so members are read through small
    # helpers with a fast path for the usual non-empty string (see _required and _optional).
    if not isinstance(event, dict):
        raise UnparseableRequest("event is not an object")
    event_id = _required(event, "id")
    if len(event_id) > MAX_ID_LENGTH:
        raise UnparseableRequest(f"'id' is longer than {MAX_ID_LENGTH} characters")
    action = _required(event, "action")
    target = _member(event, "target")
    if action != "pull":
        return _IGNORED_ACTIONS.get(action, DropReason.OTHER_ACTION)
    url = _optional(target, "url")
    media_type = _optional(target, "mediaType")
    if "/blobs/" in url or (not url and media_type not in MANIFEST_MEDIA_TYPES):
        return DropReason.BLOB_REQUEST
    request = _member(event, "request")
    method = _required(request, "method")
    if method not in _PULL_METHODS:
        method = method.upper()
        if method not in _PULL_METHODS:
            return DropReason.METHOD
    name = parse_repository_name(_required(target, "repository"))
    tag = _optional(target, "tag")
    if tag and not TAG.fullmatch(tag):
        raise UnparseableRequest(f"invalid tag {tag[:80]!r}")
    digest = _optional(target, "digest")
    if digest and not DIGEST.fullmatch(digest):
        raise UnparseableRequest(f"invalid digest {digest[:80]!r}")
    if not tag and not digest:
        raise UnparseableRequest("target has neither tag nor digest")
    timestamp = _required(event, "timestamp")
    ts = (window or TimeWindow.at(received_us, DEFAULT_MAX_SKEW)).check(
        parse_timestamp(timestamp), timestamp
    )
    ip = parse_address(_required(request, "addr"))
    ua = _optional(request, "useragent")[:1024]
    # the authenticated user: Distribution sends "actor": {} for an anonymous request
    has_actor = event.get("actor") is not None
    user = _optional(_member(event, "actor"), "name") if has_actor else ""
    # A JSON escape such as \ud800 decodes to a lone surrogate, which a spool line (UTF-8)
    # cannot hold: caught here it rejects its event, instead of failing the whole delivery.
    if not (_is_utf8(event_id) and _is_utf8(ua) and _is_utf8(user)):
        raise UnparseableRequest(
            "'id', 'useragent' or the actor's 'name' holds a lone surrogate (\\ud800-\\udfff)"
        )
    given = request.get("id")  # kept only when it is an id the registry's log could repeat
    rid = given if isinstance(given, str) and REQUEST_ID.fullmatch(given) else ""
    return PullRequestRecord(
        event_id, ts, method, name, tag, digest, ip, ua, "notification", received_us, rid,
        user_name(user),
    )  # fmt: skip


def parse_timestamp(text: str) -> int:
    """RFC 3339 with up to nanoseconds → microseconds since the epoch (nanoseconds truncated)."""
    match = _TIMESTAMP.fullmatch(text)
    if not match:
        raise UnparseableRequest(f"invalid timestamp {text[:64]!r}")
    # The events of a delivery mostly share their minute: its instant is worked out once, with
    # datetime's checks of the date and the range, and the seconds are added to it. The range
    # ends on whole minutes, so a minute inside it holds all of its seconds.
    key = text[:16] + match[8]
    try:
        minute = _MINUTE_STARTS[key]
    except KeyError:
        minute = _minute_start(*match.group(1, 2, 3, 4, 5, 8))
        if len(_MINUTE_STARTS) >= _MINUTE_CACHE_SIZE:
            _MINUTE_STARTS.clear()
        _MINUTE_STARTS[key] = minute
    second = int(match[6])
    if minute is None or second > 59:
        raise UnparseableRequest(f"invalid timestamp {text[:64]!r}")
    fraction = match[7]
    return minute + second * 1_000_000 + (int(fraction[:6].ljust(6, "0")) if fraction else 0)


def _minute_start(year: str, month: str, day: str, hour: str, minute: str, zone: str) -> int | None:
    zone = "+00:00" if zone in ("Z", "z") else zone
    if not utc_offset_allowed(zone[1:3] + zone[4:6]):  # datetime takes +14:30, even +13:99
        return None
    try:
        instant = datetime.fromisoformat(f"{year}-{month}-{day}T{hour}:{minute}:00{zone}")
        return micros(instant.astimezone(UTC))
    except (ValueError, OverflowError):  # e.g. year 9999 at -02:00 lies past datetime.max
        return None


def utc_offset_allowed(hhmm: str) -> bool:
    """Whether a UTC offset (its four digits ``HHMM``, without the sign) is one a clock has: at
    most :data:`MAX_UTC_OFFSET`, minutes under 60. The one rule of both sources: access logs
    apply it in SQL (:func:`utc_offset_sql`). Text comparison, of digits only (the callers'
    patterns allow nothing else there)."""
    return hhmm <= MAX_UTC_OFFSET and hhmm[2:] < "60"


def utc_offset_sql(hhmm: str) -> str:
    """:func:`utc_offset_allowed` as a SQL condition on the expression ``hhmm`` (DuckDB's
    ``%z`` takes +0099 and +2500 too)."""
    return f"({hhmm} <= '{MAX_UTC_OFFSET}' AND substr({hhmm}, 3) < '60')"


def parse_address(text: str) -> str:
    """A client address with or without a port (``1.2.3.4:5``, ``[::1]:5``, ``::1``)."""
    host = text.strip()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    address = normal_address(host)
    if address is None:
        raise UnparseableRequest(f"invalid client address {text[:64]!r}")
    return address


def normal_address(host: str) -> str | None:
    """An address without port in Python's normal form, None if it is not one; an IPv4-mapped
    IPv6 address (``::ffff:198.51.100.7``) is the IPv4 address it maps, as it is one client.

    Both sources write addresses with it (access logs per distinct address), so one client is
    one unique IP whichever way it was spelt. An IPv6 address goes through the C library's
    inet_pton/inet_ntop, several times faster than ipaddress and with the same normal form
    (RFC 5952: lower case, no leading zeros, the first longest run of zero groups as ``::``);
    the few forms they print differently (IPv4-compatible ``::a.b.c.d``, ``::``, ``::1``) are
    left to ipaddress. A scoped address (``fe80::1%eth0``, as a registry writes a link-local
    client's) is the address without its zone: the zone names the server's interface, not the
    client.
    """
    if CANONICAL_IPV4.fullmatch(host):
        return host
    if ":" in host:
        host = host.split("%", 1)[0]
        try:
            packed = socket.inet_pton(socket.AF_INET6, host)
        except (OSError, UnicodeEncodeError):  # a lone surrogate (JSON's \ud800) too
            return None
        if packed[:12] == _IPV4_MAPPED:
            return socket.inet_ntop(socket.AF_INET, packed[12:])
        if packed[:12] != _IPV4_COMPATIBLE:
            return socket.inet_ntop(socket.AF_INET6, packed)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def parse_repository_name(name: str) -> str:
    """``name`` if the grammar of :mod:`pullstats.names` allows it; UnparseableRequest if not."""
    problem = repository_problem(name)
    if problem:
        raise UnparseableRequest(problem)
    return name


def _is_utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _required(container: dict[str, Any], key: str) -> str:
    value = container.get(key)
    if value.__class__ is str and value:
        return value
    return _text(container, key, required=True)


def _optional(container: dict[str, Any], key: str) -> str:
    value = container.get(key)
    if value.__class__ is str:
        return value
    return _text(container, key)


def _member(container: dict[str, Any], key: str) -> dict[str, Any]:
    value = container.get(key)
    if not isinstance(value, dict):
        raise UnparseableRequest(f"'{key}' must be an object")
    return value


def _text(container: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = container.get(key)
    if value is None or value == "":
        if required:
            raise UnparseableRequest(f"'{key}' is missing")
        return ""
    if not isinstance(value, str):
        raise UnparseableRequest(f"'{key}' must be a string")
    return value
