"""Synthetic requests rendered in the formats registries really emit.

Responsible for turning SPOOL_SCHEMA tables (from :mod:`pullstats.demo.synthetic`) into:

- CNCF Distribution notification events, as the registry POSTs them to an endpoint
  (``{"events": [...]}`` with ``id, timestamp, action, target, request, actor, source``;
  timestamps as Go's RFC3339Nano, client addresses with their port; ``actor`` holds the
  authenticated user's ``name``, and is ``{}`` for an anonymous request);
- nginx access-log lines in the format pullstats recommends: ``combined`` followed by
  `` $msec "$upstream_http_docker_content_digest"``, with nginx's own escaping of ``"``, ``\\``
  and non-printable bytes (``\\xHH``); the user is ``$remote_user``, ``-`` when anonymous.

Pure: no I/O. Lines and events are built from whole columns in Arrow, not row by row, so a day
of millions of requests renders in seconds. Randomness (request ids, client ports, the
nanosecond digits) comes from the generator passed in, so a seeded run renders the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pullstats.demo.catalog import SyntheticCatalog
from pullstats.ingest.records import SPOOL_SCHEMA

__all__ = [
    "ENVELOPE_MEDIA_TYPE",
    "ManifestInfo",
    "envelope_bodies",
    "manifest_info",
    "nginx_lines",
    "notification_events",
]

ENVELOPE_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

_UNKNOWN_SIZE = 1_234
_TEXT = pa.large_string()


@dataclass(frozen=True)
class ManifestInfo:
    """What a registry knows about each manifest digest: its media type and size in bytes."""

    digests: pa.Array
    media_types: pa.Array
    sizes: pa.Array

    def lookup(self, digest: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
        """Media type and size per digest; digests not in the catalog get a docker manifest."""
        position = pc.index_in(digest, value_set=self.digests)
        media = pc.fill_null(self.media_types.take(position), DOCKER_MANIFEST)
        size = pc.fill_null(self.sizes.take(position), _UNKNOWN_SIZE)
        return media, size


def manifest_info(catalog: SyntheticCatalog) -> ManifestInfo:
    """Media types and stable sizes of every manifest in ``catalog``.

    A multi-arch tag points at an OCI image index whose platform manifests are OCI image
    manifests; a single-arch tag points at a Docker v2 manifest. Sizes are derived from the
    digest, so the same manifest always has the same size.
    """
    kinds: dict[str, str] = {}
    for tags in catalog.tags:
        for tag in tags:
            kinds[tag.index_digest] = OCI_INDEX if tag.platform_digests else DOCKER_MANIFEST
            for digest in tag.platform_digests:
                kinds[digest] = OCI_MANIFEST
    digests = list(kinds)
    # an index lists a few platforms (~0.5-2 KiB); an image manifest lists its layers (1-4 KiB)
    sizes = [(400 if kinds[d] == OCI_INDEX else 900) + int(d[7:11], 16) % 2_600 for d in digests]
    return ManifestInfo(
        pa.array(digests, pa.string()),
        pa.array([kinds[d] for d in digests], pa.string()),
        pa.array(sizes, pa.int64()),
    )


# ---------------------------------------------------------------------------------------------
# Registry notifications


def notification_events(
    table: pa.Table,
    manifests: ManifestInfo,
    rng: np.random.Generator,
    *,
    registry_host: str = "registry.example.com",
    instance_id: str = "7c3f6a2e-5b1d-4e8a-9f0c-2d4b6e8a1c3f",
) -> list[str]:
    """One JSON object per request of ``table``, each a Distribution ``pull`` event."""
    _check(table)
    n = table.num_rows
    if n == 0:
        return []
    ts = table["ts"].combine_chunks()
    digest = table["digest"]
    tag = table["tag"]
    media, size = manifests.lookup(digest)
    by_tag = pc.not_equal(tag, "")
    # Distribution puts the manifest's digest in the URL even for a pull by tag
    reference = pc.if_else(pc.equal(digest, ""), tag, digest)
    url = _join(f"https://{registry_host}/v2/", table["name"], "/manifests/", reference)
    tag_member = pc.if_else(by_tag, _join(',"tag":', _json_text(tag)), pa.scalar("", _TEXT))
    ip = table["ip"]
    port = pa.array(rng.integers(32_768, 61_000, n), pa.int64())  # Linux ephemeral ports
    addr = pc.if_else(pc.match_substring(ip, ":"), _join("[", ip, "]:", port), _join(ip, ":", port))
    user = table["user"]
    actor = pc.if_else(
        pc.equal(user, ""), pa.scalar("{}", _TEXT), _join('{"name":', _json_text(user), "}")
    )
    events = _join(
        '{"id":',
        _json_text(table["id"]),
        ',"timestamp":"',
        _rfc3339_nano(ts, rng.integers(0, 1_000, n)),
        '","action":"pull","target":{"mediaType":',
        _json_text(media),
        ',"size":',
        pc.cast(size, _TEXT),
        ',"digest":',
        _json_text(digest),
        ',"length":',
        pc.cast(size, _TEXT),
        ',"repository":',
        _json_text(table["name"]),
        ',"url":',
        _json_text(url),
        tag_member,
        '},"request":{"id":"',
        _uuid_text(rng, n),
        '","addr":',
        _json_text(addr),
        ',"host":',
        json.dumps(registry_host),
        ',"method":',
        _json_text(table["method"]),
        ',"useragent":',
        _json_text(table["ua"]),
        '},"actor":',
        actor,
        ',"source":{"addr":',
        json.dumps(f"{registry_host}:5000"),
        ',"instanceID":',
        json.dumps(instance_id),
        "}}",
    )
    result: list[str] = events.to_pylist()
    return result


def envelope_bodies(events: Sequence[str], per_envelope: int) -> Iterator[bytes]:
    """Envelopes of ``per_envelope`` events each (the last may hold fewer), as request bodies."""
    if per_envelope < 1:
        raise ValueError("an envelope holds at least one event")
    for start in range(0, len(events), per_envelope):
        yield ('{"events":[' + ",".join(events[start : start + per_envelope]) + "]}").encode()


def _rfc3339_nano(ts: pa.Array, nanos: np.ndarray) -> pa.Array:
    """``2026-10-05T12:00:00.123456789Z`` as Go writes it: trailing zeros of the fraction cut."""
    seconds = _floor_div(ts, 1_000_000)
    whole = pc.strftime(pc.cast(seconds, pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%S")
    micros = pc.subtract(ts, pc.multiply(seconds, 1_000_000))
    fraction = pc.utf8_rtrim(
        _join(_zero_pad(micros, 6), _zero_pad(pa.array(nanos, pa.int64()), 3)), characters="0"
    )
    dotted = pc.if_else(pc.equal(fraction, ""), fraction, _join(".", fraction))
    return _join(whole, dotted, "Z")


# ---------------------------------------------------------------------------------------------
# nginx access logs


def nginx_lines(table: pa.Table, manifests: ManifestInfo) -> bytes:
    """Access-log lines (each ending in ``\\n``) in pullstats' recommended nginx format::

        log_format pullstats '$remote_addr - $remote_user [$time_local] "$request" '
                             '$status $body_bytes_sent "$http_referer" '
                             '"$http_user_agent" $msec "$upstream_http_docker_content_digest"';

    with the server's clock on UTC. A HEAD sends no body, so it logs 0 bytes. ``$remote_user``
    is the request's user (``-`` when anonymous), escaped as nginx does: the generator's names
    (``[a-z0-9._-]``) never hold a space, which nginx would leave as it is.
    """
    _check(table)
    if table.num_rows == 0:
        return b""
    ts = table["ts"].combine_chunks()
    seconds = _floor_div(ts, 1_000_000)
    local_time = pc.strftime(
        pc.cast(seconds, pa.timestamp("s", tz="UTC")), format="%d/%b/%Y:%H:%M:%S +0000"
    )
    millis = pc.subtract(_floor_div(ts, 1_000), pc.multiply(seconds, 1_000))
    digest = table["digest"]
    reference = pc.if_else(pc.not_equal(table["tag"], ""), table["tag"], digest)
    _, size = manifests.lookup(digest)
    sent = pc.if_else(pc.equal(table["method"], "HEAD"), pa.scalar(0, pa.int64()), size)
    logged_digest = pc.if_else(pc.equal(digest, ""), pa.scalar("-", pa.string()), digest)
    user = pc.if_else(pc.equal(table["user"], ""), pa.scalar("-", pa.string()), table["user"])
    lines = _join(
        table["ip"],
        " - ",
        _nginx_escape(user),
        " [",
        local_time,
        '] "',
        _nginx_escape(table["method"]),
        " /v2/",
        _nginx_escape(table["name"]),
        "/manifests/",
        _nginx_escape(reference),
        ' HTTP/1.1" 200 ',
        pc.cast(sent, _TEXT),
        ' "-" "',
        _nginx_escape(table["ua"]),
        '" ',
        pc.cast(seconds, _TEXT),
        ".",
        _zero_pad(millis, 3),
        ' "',
        _nginx_escape(logged_digest),
        '"\n',
    )
    return _concatenated_bytes(lines)


def _nginx_escape(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """nginx's ``escape=default`` for log variables: ``"``, ``\\`` and bytes outside printable
    ASCII become ``\\xHH``."""
    values = pc.cast(column, _TEXT)
    if not pc.all(pc.match_substring_regex(values, r"^[\x20-\x7e]*$")).as_py():
        # rare (never in generated data): escape byte by byte in Python
        return pa.array([_nginx_escape_one(v) for v in values.to_pylist()], _TEXT)
    escaped = pc.replace_substring(values, "\\", "\\x5C")
    return pc.replace_substring(escaped, '"', "\\x22")


def _nginx_escape_one(value: str) -> str:
    out = []
    for byte in value.encode():
        char = chr(byte)
        safe = 0x20 <= byte <= 0x7E and char not in '"\\'
        out.append(char if safe else f"\\x{byte:02X}")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Column helpers


def _check(table: pa.Table) -> None:
    if not table.schema.equals(SPOOL_SCHEMA):
        raise ValueError(f"not a spool table: {table.schema}")


def _join(*parts: str | pa.Array | pa.ChunkedArray) -> pa.Array:
    """Element-wise concatenation of columns and constant strings, as large_string."""
    columns = [
        pa.scalar(part, _TEXT) if isinstance(part, str) else pc.cast(part, _TEXT) for part in parts
    ]
    joined = pc.binary_join_element_wise(*columns, pa.scalar("", _TEXT))
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def _json_text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Strings as JSON string literals, escaped as ``json.dumps(..., ensure_ascii=False)``."""
    values = pc.cast(column, _TEXT)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pc.any(pc.match_substring_regex(values, r"[\x00-\x1f]")).as_py():
        # control characters never occur in generated data: let json spell them
        return pa.array([json.dumps(v, ensure_ascii=False) for v in values.to_pylist()], _TEXT)
    escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    return _join('"', escaped, '"')


def _floor_div(values: pa.Array, divisor: int) -> pa.Array:
    array = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)
    return pa.array(np.floor_divide(array, divisor), pa.int64())


def _zero_pad(values: pa.Array, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(values, _TEXT), width=width, padding="0")


def _uuid_text(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` random version-4 UUIDs as canonical text."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(n, 32)
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for source, target, width in ((0, 0, 8), (8, 9, 4), (12, 14, 4), (16, 19, 4), (20, 24, 12)):
        text[:, target : target + width] = hexed[:, source : source + width]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int64)
    return pa.Array.from_buffers(
        _TEXT, n, [None, pa.py_buffer(offsets), pa.py_buffer(text.tobytes())]
    )


def _concatenated_bytes(lines: pa.Array) -> bytes:
    """The bytes of every value of a large_string array, back to back, taken at once."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    begin, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    data: bytes = lines.buffers()[2][begin:end].to_pybytes()
    return data
