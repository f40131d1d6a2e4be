"""Spool lines → an Arrow table of :data:`~pullstats.ingest.records.SPOOL_LINE_SCHEMA`.

A spool line is written by the ingest paths and is valid JSON with every field of the right
type. One that is not (a disk that lost a block, a hand edit, a line from a broken version) is
a *damaged line*: it is skipped, never fatal, and set aside as where it was (segment, byte
offset, length) and the SHA-256 of its bytes, not as its text, which may hold a raw client
address. The spool segment itself keeps the text until the spool retention deletes it.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson

from pullstats.ingest.records import SPOOL_LINE_SCHEMA
from pullstats.lake.spool import SegmentSlice

_INT64 = range(-(2**63), 2**63)
_OPTIONS = pajson.ParseOptions(
    explicit_schema=SPOOL_LINE_SCHEMA, unexpected_field_behavior="ignore"
)


@dataclass(frozen=True, slots=True)
class DamagedLine:
    segment: str
    offset: int  # of the line's first byte in the segment
    length: int  # bytes, newline included
    sha256: str


def parse_spool_slices(slices: list[SegmentSlice]) -> tuple[pa.Table, list[DamagedLine]]:
    """The records of ``slices`` (``rid`` NULL where a line has none), and the lines that are
    not records."""
    try:  # the usual case, in one pass of Arrow's JSON reader
        return pajson.read_json(
            io.BytesIO(b"".join(s.data for s in slices)), parse_options=_OPTIONS
        ), []
    except pa.ArrowInvalid:
        pass
    rows: list[dict[str, Any]] = []
    damaged: list[DamagedLine] = []
    for piece in slices:
        offset = piece.start
        for line in piece.data.splitlines(keepends=True):
            row = _record(line)
            if row is None:
                digest = hashlib.sha256(line).hexdigest()
                damaged.append(DamagedLine(piece.name, offset, len(line), digest))
            elif row:  # a blank line is neither
                rows.append(row)
            offset += len(line)
    return pa.Table.from_pylist(rows, schema=SPOOL_LINE_SCHEMA), damaged


def _unencodable(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (JSON's ``\\ud800``), which UTF-8 cannot hold."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def _record(line: bytes) -> dict[str, Any] | None:
    """The record a line holds ({} for a blank line), or None when it holds none."""
    if not line.strip():
        return {}
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    row = {}
    for field in SPOOL_LINE_SCHEMA:
        item = value.get(field.name)
        if item is None:
            pass  # NULL: the record rules decide (ingest/record_rules.py)
        elif pa.types.is_integer(field.type):
            if isinstance(item, bool) or not isinstance(item, int) or item not in _INT64:
                return None
        elif not isinstance(item, str) or (not item.isprintable() and _unencodable(item)):
            return None
        row[field.name] = item
    return row
