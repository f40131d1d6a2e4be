"""A log as bounded chunks of whole lines: plain or compressed (gzip, bzip2, xz), a file or a
stream, read without a per-line loop.

Python only finds the line ends, with NumPy; the lines of a chunk are one Arrow array, ready
for DuckDB. A chunk never splits a line, and a line longer than :data:`MAX_LINE_BYTES` stops
the reading with an error (it is not an access log).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Protocol, cast

import numpy as np
import pyarrow as pa

#: Bytes read from a source per chunk (after decompression).
BLOCK_BYTES = 32 * 1024 * 1024


#: A line longer than this is not an access log line; reading stops with an error.
MAX_LINE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class LineChunk:
    """Consecutive lines of one source, each with its ``\\n`` (the last may lack it)."""

    lines: pa.Array  # large_string
    first_line: int  # 1-based number of the first line in its source
    position: int  # bytes of the source consumed so far (compressed bytes for gzip)

    @property
    def nbytes(self) -> int:
        return int(self.lines.nbytes)


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: memoryview, /) -> int: ...

    def readinto1(self, buffer: memoryview, /) -> int: ...


class _Peekable(_Readable, Protocol):
    def peek(self, size: int, /) -> bytes: ...


class _CountingReader:
    """Counts the bytes read from a source, so progress works for pipes and gzip alike."""

    def __init__(self, source: _Readable) -> None:
        self._source = source
        self.consumed = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._source.read(size)
        self.consumed += len(data)
        return data

    def readinto(self, buffer: memoryview, /) -> int:
        count = self._source.readinto(buffer)
        self.consumed += count
        return count

    def readinto1(self, buffer: memoryview, /) -> int:
        count = self._source.readinto1(buffer)
        self.consumed += count
        return count

    def position(self) -> int:
        return self.consumed


#: Magic bytes of compressed files logrotate may write, how each is opened (the standard
#: library's readers; each reads concatenated streams, as ``cat a.gz b.gz`` makes), and the
#: command that decompresses it, for a hint.
_DECOMPRESSED: dict[bytes, tuple[Callable[[IO[bytes]], _Peekable], str]] = {
    b"\x1f\x8b": (lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"), "zcat"),
    b"BZh": (bz2.BZ2File, "bzcat"),
    b"\xfd7zXZ\x00": (lzma.LZMAFile, "xzcat"),
}
#: Compressions recognised but not read, and the command that reads one into ``-``.
_UNREAD = {b"\x28\xb5\x2f\xfd": ("zstd", "zstdcat"), b"\x04\x22\x4d\x18": ("lz4", "lz4cat")}


class UnreadCompression(ValueError):
    """A log compressed in a format pullstats does not read (zstd, lz4)."""


class UnreadEncoding(ValueError):
    """A log or CSV file in UTF-16 (a byte order mark first): every line would be unparseable."""


#: Byte order marks of UTF-16, which a log saved on Windows may start with.
_UTF16 = (b"\xff\xfe", b"\xfe\xff")
#: UTF-8's, which such a tool may write too: left out, or the first line would not parse.
_UTF8_BOM = b"\xef\xbb\xbf"


def open_log(source: _Peekable) -> tuple[_Readable, Callable[[], int]]:
    """The decompressed stream of ``source`` (gzip, bzip2 and xz are recognised by their magic
    bytes), and a function giving how many bytes of ``source`` have been consumed so far; a
    UTF-8 byte order mark is left out. :class:`UnreadCompression` for a zstd or lz4 one,
    :class:`UnreadEncoding` for UTF-16."""
    counting = _CountingReader(source)
    head = source.peek(6)[:6]
    for magic, (opened, cat) in _DECOMPRESSED.items():
        if head.startswith(magic):
            decompressed = opened(cast(IO[bytes], counting))  # read() is all they use
            head = decompressed.peek(3)[:3]
            refuse_utf16(head, _through_a_pipe(cat))
            if head == _UTF8_BOM:
                decompressed.read(3)
            return decompressed, counting.position
    for magic, (name, tool) in _UNREAD.items():
        if head.startswith(magic):
            raise UnreadCompression(
                f"{name}-compressed, which pullstats does not read (it reads gzip, bzip2 and "
                f"xz): give it decompressed through a pipe, as <({tool} FILE)"
            )
    refuse_utf16(head, _through_a_pipe(None))
    if head.startswith(_UTF8_BOM):
        counting.read(3)
    return counting, counting.position


def refuse_utf16(head: bytes, instead: str) -> None:
    """:class:`UnreadEncoding` if ``head`` (the first bytes of a text, decompressed) starts with
    a UTF-16 byte order mark; ``instead`` ends the message: how to give the text as UTF-8 (see
    :func:`as_utf8`). A UTF-8 byte order mark is no refusal: the reader leaves it out."""
    if head.startswith(_UTF16):
        raise UnreadEncoding(
            f"UTF-16 text (it starts with a byte order mark), which pullstats does not read: "
            f"{instead}"
        )


def as_utf8(cat: str | None) -> str:
    """The shell command that writes FILE, UTF-16 text (decompressed by ``cat`` if it names a
    command), as UTF-8 on its output."""
    iconv = "iconv -f UTF-16 -t UTF-8"
    return f"{cat} FILE | {iconv}" if cat else f"{iconv} FILE"


def _through_a_pipe(cat: str | None) -> str:
    return f"give it as UTF-8 through a pipe, as <({as_utf8(cat)})"


def read_line_chunks(
    stream: _Readable, position: Callable[[], int], block_bytes: int | None = None
) -> Iterator[LineChunk]:
    """Split a byte stream into chunks of whole lines, about ``block_bytes`` (default
    :data:`BLOCK_BYTES`) each.

    Each block is read straight into a fresh buffer of Arrow's memory pool (which reuses freed
    memory, so no page faults and no copy), lines are found with NumPy, and the chunk is one
    Arrow array over the buffer. Only the unfinished last line is copied, to the next block.
    Bytes that are not UTF-8 are replaced (U+FFFD) so a damaged line is counted, not fatal.

    A source that fails part-way (a gzip file cut short, damaged data) gives the lines read
    before the failure as a last chunk (its last line, cut, without a newline), then raises.
    A compressed source that ends cleanly gets the newline its last line may lack.
    """
    block_bytes = block_bytes or BLOCK_BYTES
    carry = b""
    next_line = 1
    while True:
        buffer = pa.allocate_buffer(len(carry) + block_bytes)
        view = memoryview(buffer).cast("B")
        view[: len(carry)] = carry
        read, failure = _read_full(stream, view[len(carry) :])
        filled = len(carry) + read
        ended = failure is not None or filled == len(carry)  # the end of the source or its data
        if ended and failure is None and filled and view[filled - 1] != 0x0A and _whole(stream):
            view[filled] = 0x0A  # room: this round read nothing into the block
            filled += 1
        view.release()
        if ended:
            if filled:
                data = np.frombuffer(buffer, dtype=np.uint8, count=filled)
                ends = np.flatnonzero(data == 0x0A) + 1
                if not len(ends) or ends[-1] != filled:  # a last line without its newline
                    ends = np.append(ends, filled)
                yield LineChunk(_lines_array(buffer, ends), next_line, position())
            if failure is not None:
                raise failure
            return
        data = np.frombuffer(buffer, dtype=np.uint8, count=filled)
        ends = np.flatnonzero(data == 0x0A) + 1
        if len(ends) == 0:
            if filled > MAX_LINE_BYTES:
                raise ValueError(
                    f"line {next_line} is longer than {MAX_LINE_BYTES} bytes; not an access log"
                )
            carry = data.tobytes()
            continue
        cut = int(ends[-1])
        carry = data[cut:].tobytes()
        yield LineChunk(_lines_array(buffer, ends), next_line, position())
        next_line += len(ends)


def _whole(stream: _Readable) -> bool:
    """Whether ``stream`` is a compressed log read to its end marker: its writer has finished
    it, so its last line is whole even without a newline (a plain file or a pipe may still be
    written to, and its last line is left until it ends with one)."""
    return isinstance(stream, gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile)


def _read_full(stream: _Readable, view: memoryview) -> tuple[int, Exception | None]:
    """Fill ``view`` unless the source ends first (a pipe hands over less at a time): the
    bytes read, and the error that stopped the reading (a damaged or cut compressed file).

    One read of the source at a time (``readinto1``): a read that fails loses only what it
    had read itself, where a whole ``readinto`` would lose the block's count."""
    filled = 0
    while filled < len(view):
        try:
            count = stream.readinto1(view[filled:])
        except (OSError, EOFError, zlib.error, lzma.LZMAError) as error:
            return filled, error
        if not count:
            break
        filled += count
    return filled, None


def _lines_array(buffer: pa.Buffer, ends: np.ndarray) -> pa.Array:
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    array = pa.Array.from_buffers(
        pa.large_string(), len(ends), [None, pa.py_buffer(offsets), buffer]
    )
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        # not UTF-8: replace the bad bytes; a replacement never creates or removes a newline
        data = buffer.to_pybytes()[: int(ends[-1])]
        fixed = data.decode("utf-8", errors="replace").encode()
        ends = np.flatnonzero(np.frombuffer(fixed, dtype=np.uint8) == 0x0A) + 1
        if len(fixed) and fixed[-1:] != b"\n":
            ends = np.append(ends, len(fixed))
        return _lines_array(pa.py_buffer(fixed), ends)
    return array
