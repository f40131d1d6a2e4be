"""Export file bytes: names, and deterministic gzip compressed on several cores.

The gzip stream is cut into fixed blocks of :data:`BLOCK_BYTES` uncompressed bytes, counted
from the start of each file. Each block is deflated on its own thread with ISA-L (``isal``),
primed with the last 32 KiB of the block before it and ended with a sync flush, then the blocks
are written in order as one gzip member (the way pigz works). A block's bytes depend only on
its data, the 32 KiB before it and the level, so the same file content always gives the same
gzip bytes, whichever thread compressed which block. The header has mtime 0 and no file name.
"""

from __future__ import annotations

import hashlib
import struct
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from isal import isal_zlib

from pullstats.atomic_files import publish, temporary_sibling
from pullstats.periods import Period

#: Uncompressed bytes per independently compressed block (fixed: it shapes the output bytes).
BLOCK_BYTES = 1024 * 1024
#: ISA-L level (0–3). Level 1 is ~5× faster than zlib level 6 for ~15 % larger files.
LEVEL = 1
_WINDOW = 32 * 1024
# magic, deflate, no flags, mtime 0, no extra flags, OS unknown (as Python's gzip writes)
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
# an empty final block with fixed Huffman codes: ends the deflate stream after sync flushes
_FINAL_BLOCK = b"\x03\x00"


@dataclass(frozen=True)
class WrittenPart:
    number: int
    file_name: str
    path: Path
    size: int
    rows: int
    sha256: str


def part_file_name(namespace: str, view: str, period: Period, part: int) -> str:
    return f"{namespace}_{view}_{period.label}_part{part:03d}.csv.gz"


def _deflate_block(data: bytes, window: bytes, level: int) -> tuple[bytes, int]:
    """Raw deflate of one block (primed with ``window``, sync-flushed) and its CRC-32."""
    if window:
        compressor = isal_zlib.compressobj(
            level, isal_zlib.DEFLATED, -15, 9, isal_zlib.Z_DEFAULT_STRATEGY, window
        )
    else:
        compressor = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15)
    deflated = compressor.compress(data) + compressor.flush(isal_zlib.Z_SYNC_FLUSH)
    return deflated, isal_zlib.crc32(data)


class Compressor:
    """The worker threads that deflate blocks; one per export run, shared by every file."""

    def __init__(self, threads: int, level: int = LEVEL, in_flight: int | None = None) -> None:
        self.level = level
        self.in_flight = in_flight or 2 * threads + 2  # bounds memory: blocks held at once
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="gzip")

    def submit(self, data: bytes, window: bytes) -> Future[tuple[bytes, int]]:
        return self._pool.submit(_deflate_block, data, window, self.level)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Compressor:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class GzipFile:
    """One gzip file written through a :class:`Compressor`: published atomically by
    :meth:`close`, removed by :meth:`discard`."""

    def __init__(self, target: Path, compressor: Compressor) -> None:
        self.target = target
        self._compressor = compressor
        self._tmp = temporary_sibling(target)
        self._out: BinaryIO = open(self._tmp, "wb")  # noqa: SIM115 - closed in close/discard
        self._sha256 = hashlib.sha256()
        self._pending: deque[tuple[Future[tuple[bytes, int]], int]] = deque()
        self._buffer = bytearray()
        self._window = b""
        self._crc = 0
        self._length = 0
        self._size = 0
        self._emit(_HEADER)

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        if self._buffer:
            missing = BLOCK_BYTES - len(self._buffer)
            self._buffer += view[:missing]
            view = view[missing:]
            if len(self._buffer) < BLOCK_BYTES:
                return
            self._submit(bytes(self._buffer))
            self._buffer = bytearray()
        while len(view) >= BLOCK_BYTES:
            self._submit(bytes(view[:BLOCK_BYTES]))
            view = view[BLOCK_BYTES:]
        self._buffer += view

    def close(self) -> tuple[int, str]:
        """Finish and publish the file; returns its size and SHA-256."""
        if self._buffer:
            self._submit(bytes(self._buffer))
            self._buffer = bytearray()
        while self._pending:
            self._collect()
        self._emit(_FINAL_BLOCK + struct.pack("<II", self._crc, self._length & 0xFFFFFFFF))
        self._out.close()
        publish(self._tmp, self.target)
        return self._size, self._sha256.hexdigest()

    def discard(self) -> None:
        for future, _ in self._pending:
            future.cancel()
        self._pending.clear()
        self._out.close()
        self._tmp.unlink(missing_ok=True)

    def _submit(self, block: bytes) -> None:
        self._pending.append((self._compressor.submit(block, self._window), len(block)))
        self._window = block[-_WINDOW:]
        while len(self._pending) > self._compressor.in_flight:
            self._collect()

    def _collect(self) -> None:
        future, length = self._pending.popleft()
        deflated, crc = future.result()
        self._crc = isal_zlib.crc32_combine(self._crc, crc, length)
        self._length += length
        self._emit(deflated)

    def _emit(self, data: bytes) -> None:
        self._out.write(data)
        self._sha256.update(data)
        self._size += len(data)
