"""The spool record: one manifest request as every source hands it to the lake.

This is the only shape that crosses from stage 0 to stage 1; it is the only place that holds a
raw client address.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Arrow schema of spool lines, used to parse them in bulk.
SPOOL_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("ts", pa.int64()),  # request time, microseconds since the epoch, UTC
        ("method", pa.string()),  # GET or HEAD
        ("name", pa.string()),  # repository name as the registry saw it, e.g. grp/sub/app
        ("tag", pa.string()),  # the tag when the request was by tag, else ""
        ("digest", pa.string()),  # digest requested or returned, "" when unknown
        ("ip", pa.string()),
        ("ua", pa.string()),
        ("src", pa.string()),  # which source produced it: notification, log, ...
        ("recv", pa.int64()),  # arrival time, microseconds since the epoch
    ]
)


@dataclass(frozen=True, slots=True)
class PullRequestRecord:
    """A successful GET or HEAD of ``/v2/<name>/manifests/<reference>``."""

    id: str
    ts: int
    method: str
    name: str
    tag: str
    digest: str
    ip: str
    ua: str
    src: str
    recv: int

    def to_line(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def micros(instant: datetime) -> int:
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def now_micros() -> int:
    return micros(datetime.now(UTC))
