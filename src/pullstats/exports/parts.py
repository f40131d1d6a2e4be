"""Splitting one view's CSV lines into gzip parts while they stream out of the engine.

A part holds its header line and then as many whole rows as fit in the part size (uncompressed
bytes, header included); the next row starts the next part. A single row larger than a part is
a part of its own. The boundaries depend only on the rows' bytes and the part size, never on how
the engine batched them, so the same data always splits into the same parts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa

from pullstats.exports.files import Compressor, GzipFile, WrittenPart


def _line_buffers(lines: pa.Array) -> tuple[np.ndarray, memoryview]:
    """The end offsets (``n + 1`` of them) and the data buffer of a string array of lines."""
    if lines.type not in (pa.string(), pa.large_string()):
        lines = lines.cast(pa.large_string())
    if lines.null_count:
        raise ValueError("an export line is NULL")
    width = np.int32 if lines.type == pa.string() else np.int64
    _, offsets_buffer, data_buffer = lines.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=width)
    offsets = offsets[lines.offset : lines.offset + len(lines) + 1].astype(np.int64)
    data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
    return offsets, data


class PartWriter:
    """Writes the lines of one view into ``part001``, ``part002``, … in ``folder``."""

    def __init__(
        self,
        folder: Path,
        file_name: Callable[[int], str],
        header: bytes,
        part_bytes: int,
        compressor: Compressor,
    ) -> None:
        self.folder = folder
        self.file_name = file_name
        self.header = header
        self.part_bytes = part_bytes
        self.compressor = compressor
        self.parts: list[WrittenPart] = []
        self._file: GzipFile | None = None
        self._used = 0
        self._rows = 0

    def write_batches(self, batches: Iterable[pa.RecordBatch]) -> None:
        """Write the first column of every batch: one CSV line (with its CRLF) per row."""
        for batch in batches:
            self.write_lines(batch.column(0))

    def write_lines(self, lines: pa.Array) -> None:
        offsets, data = _line_buffers(lines)
        start, count = 0, len(offsets) - 1
        while start < count:
            if self._file is None:
                self._open()
            assert self._file is not None
            ends = offsets[start + 1 :] - offsets[start]
            fit = int(np.searchsorted(ends, self.part_bytes - self._used, side="right"))
            if fit == 0 and self._rows:
                self._finish()  # the next row does not fit: it opens the next part
                continue
            stop = start + max(fit, 1)  # a row larger than a part goes alone
            self._file.write(data[offsets[start] : offsets[stop]])
            self._used += int(offsets[stop] - offsets[start])
            self._rows += stop - start
            start = stop
            if start < count:
                self._finish()

    def close(self) -> list[WrittenPart]:
        """Finish the last part (a view without rows still gets one, header only)."""
        if self._file is None:
            self._open()
        self._finish()
        return self.parts

    def discard(self) -> None:
        if self._file is not None:
            self._file.discard()
            self._file = None

    def _open(self) -> None:
        name = self.file_name(len(self.parts) + 1)
        self._file = GzipFile(self.folder / name, self.compressor)
        self._file.write(self.header)
        self._used, self._rows = len(self.header), 0

    def _finish(self) -> None:
        assert self._file is not None
        size, sha256 = self._file.close()
        target = self._file.target
        number = len(self.parts) + 1
        self.parts.append(WrittenPart(number, target.name, target, size, self._rows, sha256))
        self._file = None
