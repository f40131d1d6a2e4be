"""CNCF Distribution (and GitLab registry) notification envelopes → spool records.

Pure parsing, no I/O: :func:`parse_envelope` takes the body and returns the manifest pull
requests it holds, the events it ignores (by reason) and the events it rejects (with why).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pullstats.ingest.errors import InvalidEnvelope, UnparseableRequest
from pullstats.ingest.records import PullRequestRecord, micros

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
_NAME_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*", re.ASCII)
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+", re.ASCII)
_TAG = re.compile(r"\w[\w.-]{0,127}", re.ASCII)
_MAX_NAME = 255


@dataclass
class EnvelopeResult:
    records: list[PullRequestRecord] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    rejected: list[tuple[int, str]] = field(default_factory=list)


def check_media_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in ENVELOPE_MEDIA_TYPES:
        raise InvalidEnvelope(
            f"unsupported content type {media_type or '(none)'!r}; send one of "
            + ", ".join(sorted(ENVELOPE_MEDIA_TYPES)),
            status_code=415,
        )


def parse_envelope(body: bytes, content_type: str | None, received_us: int) -> EnvelopeResult:
    """Parse one delivery; :class:`InvalidEnvelope` when the body as a whole is unusable."""
    check_media_type(content_type)
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidEnvelope(f"body is not JSON: {error}") from None
    if not isinstance(document, dict) or "events" not in document:
        raise InvalidEnvelope("body is not a notification envelope: no 'events' member")
    events = document["events"]
    if not isinstance(events, list):
        raise InvalidEnvelope("'events' must be an array")
    result = EnvelopeResult()
    for index, event in enumerate(events):
        try:
            outcome = parse_event(event, received_us)
        except UnparseableRequest as error:
            result.rejected.append((index, str(error)))
            continue
        if isinstance(outcome, str):
            result.ignored[outcome] += 1
        else:
            result.records.append(outcome)
    return result


def parse_event(event: Any, received_us: int) -> PullRequestRecord | str:
    """One event → a record, or the reason it is ignored; UnparseableRequest if malformed."""
    if not isinstance(event, dict):
        raise UnparseableRequest("event is not an object")
    event_id = _text(event, "id", required=True)
    action = _text(event, "action", required=True)
    target = _member(event, "target")
    if action != "pull":
        return action if action in ("push", "delete", "mount") else "other_action"
    url = _text(target, "url")
    media_type = _text(target, "mediaType")
    if "/blobs/" in url or (not url and media_type not in MANIFEST_MEDIA_TYPES):
        return "blob_request"
    request = _member(event, "request")
    method = _text(request, "method", required=True).upper()
    if method not in ("GET", "HEAD"):
        return "method"
    name = parse_repository_name(_text(target, "repository", required=True))
    tag = _text(target, "tag")
    if tag and not _TAG.fullmatch(tag):
        raise UnparseableRequest(f"invalid tag {tag[:80]!r}")
    digest = _text(target, "digest")
    if digest and not _DIGEST.fullmatch(digest):
        raise UnparseableRequest(f"invalid digest {digest[:80]!r}")
    if not tag and not digest:
        raise UnparseableRequest("target has neither tag nor digest")
    return PullRequestRecord(
        id=event_id,
        ts=parse_timestamp(_text(event, "timestamp", required=True)),
        method=method,
        name=name,
        tag=tag,
        digest=digest,
        ip=parse_address(_text(request, "addr", required=True)),
        ua=_text(request, "useragent")[:1024],
        src="notification",
        recv=received_us,
    )


def parse_timestamp(text: str) -> int:
    """RFC 3339 with up to nanoseconds → microseconds since the epoch (nanoseconds truncated)."""
    match = _TIMESTAMP.fullmatch(text)
    if not match:
        raise UnparseableRequest(f"invalid timestamp {text[:64]!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        zone = "+00:00" if zone in ("Z", "z") else zone
        instant = datetime.fromisoformat(
            f"{year}-{month}-{day}T{hour}:{minute}:{second}{zone}"
        ).astimezone(UTC)
    except (ValueError, OverflowError):  # e.g. year 9999 at -02:00 lies past datetime.max
        raise UnparseableRequest(f"invalid timestamp {text[:64]!r}") from None
    return micros(instant) + int((fraction or "0").ljust(6, "0")[:6])


def parse_address(text: str) -> str:
    """A client address with or without a port (``1.2.3.4:5``, ``[::1]:5``, ``::1``)."""
    host = text.strip()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        raise UnparseableRequest(f"invalid client address {text[:64]!r}") from None


def parse_repository_name(name: str) -> str:
    if len(name) > _MAX_NAME or not name:
        raise UnparseableRequest("repository name is empty or too long")
    components = name.split("/")
    if not all(_NAME_COMPONENT.fullmatch(part) for part in components):
        raise UnparseableRequest(f"invalid repository name {name[:80]!r}")
    return name


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
