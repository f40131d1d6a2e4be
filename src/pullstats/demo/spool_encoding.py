"""Synthetic requests as spool lines, built from whole Arrow columns.

Byte for byte what :meth:`~pullstats.ingest.records.PullRequestRecord.to_line` writes, at a
fraction of the cost of a line at a time: the demo and the benchmarks write millions.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pullstats.demo.arrays import ByteArray
from pullstats.ingest.records import SPOOL_SCHEMA


def to_spool_lines(table: pa.Table) -> bytes:
    """Render a SPOOL_SCHEMA table as spool lines, byte for byte what ``to_line()`` writes.

    Builds each line from whole columns in Arrow (keys in schema order, compact separators,
    JSON string escaping as ``json.dumps(..., ensure_ascii=False)``), then takes the bytes of
    the joined column at once.
    """
    if not table.schema.equals(SPOOL_SCHEMA):
        raise ValueError(f"not a spool table: {table.schema}")
    if table.num_rows == 0:
        return b""
    text = pa.large_string()
    parts: list[pa.ChunkedArray | pa.Scalar] = []
    for position, field in enumerate(SPOOL_SCHEMA):
        column = table.column(position)
        if column.null_count:
            raise ValueError(f"column {field.name!r} holds nulls; spool records have none")
        opening = "{" if position == 0 else ","
        parts.append(pa.scalar(opening + json.dumps(field.name) + ":", text))
        parts.append(_json_values(column))
    parts.append(pa.scalar("}\n", text))
    lines = pc.binary_join_element_wise(*parts, pa.scalar("", text)).combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    begin, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    data: bytes = lines.buffers()[2][begin:end].to_pybytes()
    return data


def _json_values(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """One column as JSON literals (large_string), escaped as the json module does."""
    text = pa.large_string()
    values = pc.cast(column, text)
    if pa.types.is_integer(column.type):
        return values
    contents = [_utf8_bytes(chunk) for chunk in values.chunks]
    if any(np.any(content < 0x20) for content in contents):
        # control characters are rare (never in generated data): let json spell them
        encoded = [json.dumps(value, ensure_ascii=False) for value in values.to_pylist()]
        return pa.chunked_array([pa.array(encoded, text)])
    if any(np.any((content == ord("\\")) | (content == ord('"'))) for content in contents):
        values = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    quote = pa.scalar('"', text)
    return pc.binary_join_element_wise(quote, values, quote, pa.scalar("", text))


_NO_BYTES = np.empty(0, dtype=np.uint8)


def _utf8_bytes(chunk: pa.Array) -> ByteArray:
    """The bytes of a large_string array's values, as a view (scanning them is a NumPy pass)."""
    offsets_buffer, data_buffer = chunk.buffers()[1:3]
    if data_buffer is None or len(chunk) == 0:
        return _NO_BYTES
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)
    begin, end = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
    return np.frombuffer(data_buffer, dtype=np.uint8)[begin:end]
