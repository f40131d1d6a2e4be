"""Reading a Docker Hub CSV(.gz) file for the import (:mod:`.dockerhub_csv`): its content hash,
its header and rows as a DuckDB view under canonical names, the lines DuckDB could not split,
and why a whole file failed, in one line.

DuckDB's reader lets a quoted cell run on past its line's end, and when no closing quote
follows it drops every line up to the end of its buffer as one bad line. Docker's files hold
no line break inside a cell, so one stray ``"`` cost thousands of good rows without a word.
:func:`read_rows` therefore checks that every line that is not blank is a row or a rejected
line; when some are missing it reads the file again from a copy in which each line whose
quotes do not close on it is replaced by a line DuckDB rejects, so that line alone is skipped
(and named), and it refuses the file if rows are still missing. The copy is read too when
DuckDB cannot read the file at all because its lines end in both ``\n`` and ``\r\n``: the
copy's lines all end in ``\n``."""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

import duckdb

from pullstats.ingest.dockerhub_columns import Header, UnrecognisedFile, parse_header
from pullstats.ingest.log_lines import UnreadEncoding, as_utf8, refuse_utf16
from pullstats.sql_literals import sql_text

__all__ = [
    "Content",
    "canonical_view",
    "content_sha256",
    "failure",
    "line_of",
    "load",
    "read_rows",
    "refuse_other_encodings",
    "rejected_lines",
    "scan",
]

T = TypeVar("T")
_NOT_CSV = (
    "not a CSV file: no comma-separated header row could be read "
    "(expected a Docker Hub DVP CSV export, see docs/dockerhub-import.md)"
)
# a cell: quoted, its quotes closing on the line ("" a quote inside), or not starting with one
_CELL = rb'(?:"[^"\r\n]*(?:""[^"\r\n]*)*"|[^",\r\n][^,\r\n]*|)'
#: A line DuckDB reads as a line: cells, each closed on it (with its line break, if any).
_WHOLE_LINE = re.compile(_CELL + rb"(?:," + _CELL + rb")*\r?\n?")


@dataclass(frozen=True)
class Content:
    """A file's path, whether it is gzip, the SHA-256 of its content (gunzipped), how many
    lines it has, the header's and blank ones included, its first bytes and where it first is
    not UTF-8."""

    path: Path
    gzipped: bool
    sha256: str
    lines: int
    #: the content's first two bytes (gunzipped): a UTF-16 byte order mark, if any
    head: bytes = b""
    #: the line (header = 1) and the byte where the content first is not UTF-8; None if it is
    not_utf8: tuple[int, int] | None = None


def _open(path: Path, gzipped: bool) -> IO[bytes]:
    if gzipped:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def scan(path: Path) -> Content:
    """Hash the file's content, count its lines and check it is UTF-8, in one pass."""
    digest = hashlib.sha256()
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    lines = 0
    last = b"\n"
    utf8: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("utf-8")()
    not_utf8 = None
    head = b""
    with _open(path, gzipped) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            head = head or chunk[:2]
            if utf8 is not None:
                not_utf8 = _first_not_utf8(utf8, chunk, lines)
                utf8 = None if not_utf8 else utf8  # the first place is enough
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if utf8 is not None:  # a character cut short by the end of the file
        not_utf8 = _first_not_utf8(utf8, b"", lines, final=True)
    lines += last != b"\n"  # the last line, without its line break
    return Content(path, gzipped, digest.hexdigest(), lines, head, not_utf8)


def _first_not_utf8(
    decoder: codecs.IncrementalDecoder, chunk: bytes, lines: int, *, final: bool = False
) -> tuple[int, int] | None:
    """Where ``chunk``, after the ``lines`` line breaks before it, first is not UTF-8 (its
    line, header = 1, and byte), given what ``decoder`` holds of a character begun before it."""
    pending = decoder.getstate()[0]
    try:
        decoder.decode(chunk, final=final)
    except UnicodeDecodeError as error:
        text = pending + chunk  # what the error's place counts in (pending holds no line break)
        at = min(error.start, len(text) - 1)
        return lines + text[:at].count(b"\n") + 1, text[at]
    return None


def refuse_other_encodings(content: Content) -> None:
    """:class:`~pullstats.ingest.log_lines.UnreadEncoding` if ``content`` is not UTF-8.

    UTF-16 text (what Windows tools save as "Unicode") DuckDB would read as a header of names
    full of NULs. Of other text, the lines with bytes that are not UTF-8 would be skipped and
    the rest imported, so a file saved by a spreadsheet as Windows-1252 (Excel's "CSV (Comma
    delimited)") would lose its rows with accents; whole, converted once, it is imported once.
    """
    # not through a pipe, as a log may be: the file is read twice (see dockerhub_csv)
    refuse_utf16(
        content.head,
        "save it as UTF-8 and import that: "
        f"{as_utf8('zcat' if content.gzipped else None)} > FILE-utf8.csv",
    )
    if content.not_utf8 is None:
        return
    line, byte = content.not_utf8
    cat = "zcat FILE | " if content.gzipped else ""
    source = "" if content.gzipped else " FILE"
    raise UnreadEncoding(
        f"not UTF-8 (line {line} holds the byte 0x{byte:02X}), nothing of it imported: save it "
        f"as UTF-8 and import that; from Windows-1252, as spreadsheets save a CSV: "
        f"{cat}iconv -f WINDOWS-1252 -t UTF-8{source} > FILE-utf8.csv"
    )


def content_sha256(path: Path) -> str:
    """SHA-256 of the file's content, gunzipped first when it is gzip."""
    return scan(path).sha256


def _header_names(path: Path, gzipped: bool) -> list[str]:
    """The header row's cells (the first line alone: a header holds no line break)."""
    with _open(path, gzipped) as text:
        first = text.readline(1 << 20)
    try:
        line = first.removeprefix(b"\xef\xbb\xbf").decode().rstrip("\r\n")
        names = next(csv.reader([line], strict=True), [])
    except (UnicodeDecodeError, csv.Error):
        raise UnrecognisedFile(_NOT_CSV) from None
    return [name or f"column{index}" for index, name in enumerate(names)]


def load(
    connection: duckdb.DuckDBPyConnection, path: Path, namespace_given: bool, gzipped: bool
) -> Header:
    """``src``: the file's rows (every column text, numbered ``rn`` in file order, the lines
    DuckDB cannot split left in ``reject_errors``); its header's kind and columns. The file is
    UTF-8 (:func:`refuse_other_encodings`).

    The columns are the header's, read here: DuckDB's sniffer refused a whole file for one bad
    line among the first it samples."""
    names = _header_names(path, gzipped)
    try:
        header = parse_header(names, namespace_given)
    except UnrecognisedFile:
        if len(names) == 1 and not any(sep in names[0] for sep in ";\t|"):
            raise UnrecognisedFile(_NOT_CSV) from None  # a text file, not a table
        raise
    columns = ", ".join(f"{sql_text(name)}: 'VARCHAR'" for name in names)
    compression = "gzip" if gzipped else "none"
    # a view cannot take prepared parameters: the path is quoted as a SQL literal instead
    try:
        connection.execute(
            f"""
            CREATE OR REPLACE TEMP VIEW src AS
            SELECT row_number() OVER () AS rn, *
            FROM read_csv(
                {sql_text(path)}, header = true, auto_detect = false, columns = {{{columns}}},
                delim = ',', quote = '"', escape = '"', compression = '{compression}',
                ignore_errors = true, store_rejects = true
            )
            """
        )
    except duckdb.Error:
        # DuckDB's own message is a page about its CSV reader, of no use to an operator
        raise UnrecognisedFile(_NOT_CSV) from None
    return header


def read_rows(
    connection: duckdb.DuckDBPyConnection,
    content: Content,
    scratch: Path,
    parse: Callable[[Path, bool], T],
) -> tuple[T, list[int], list[int]]:
    """``parse`` the file (it reads ``src`` once into ``parsed``: one row per row read), the
    lines DuckDB rejected and the blank lines (which it skips); again from a copy with the lines
    that could run on replaced when a line is neither a row nor rejected; UnrecognisedFile if
    one still is not."""
    refuse_other_encodings(content)
    try:
        parsed = parse(content.path, content.gzipped)
    except duckdb.InvalidInputException:
        # lines ending in both \n and \r\n (two files joined): DuckDB's reader stops at the
        # first change of ending, "The CSV Parser state machine reached an invalid state";
        # the copy's lines all end in \n
        pass
    else:
        rejected = rejected_lines(connection)
        if _all_read(connection, rejected, content.lines):
            return parsed, rejected, []
        # DuckDB skips blank lines: found only when needed, as a file seldom has any
        blank = _blank_lines(content)
        if _all_read(connection, rejected, content.lines - len(blank)):
            return parsed, rejected, blank
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / f"lines-{content.sha256}.csv"
    try:
        lines = _copy_whole_lines(content, copy)
        blank = _blank_lines(content)
        connection.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
        parsed = parse(copy, False)
        rejected = rejected_lines(connection)
        if not _all_read(connection, rejected, lines):
            raise UnrecognisedFile(
                "some lines were neither read as rows nor rejected (a line break inside a "
                "quoted cell?), nothing of it imported"
            )
    finally:
        copy.unlink(missing_ok=True)
    return parsed, rejected, blank


def _all_read(connection: duckdb.DuckDBPyConnection, rejected: list[int], lines: int) -> bool:
    """Whether every line but the header is a row of ``parsed`` or a rejected line."""
    (rows,) = connection.execute("SELECT count(*) FROM parsed").fetchone() or (0,)
    return int(rows) + len(rejected) >= lines - 1


def _blank_lines(content: Content) -> list[int]:
    """The numbers of the file's blank lines (the header is line 1)."""
    with _open(content.path, content.gzipped) as source:
        return [number for number, line in enumerate(source, 1) if line in (b"\n", b"\r\n")]


def _copy_whole_lines(content: Content, copy: Path) -> int:
    """Write the file to ``copy`` with each line whose quotes do not close on it (or that
    DuckDB would otherwise not read as one line) replaced by one DuckDB rejects, and every
    line ending in ``\n``, keeping the line numbers; the lines that are not blank."""
    lines = 0
    with _open(content.path, content.gzipped) as source, open(copy, "wb") as out:
        for line in source:
            if line.endswith(b"\r\n"):
                line = line[:-2] + b"\n"
            if lines and b'"' in line and not _WHOLE_LINE.fullmatch(line):
                # text after a quoted cell: a line DuckDB rejects, whatever the header
                line = b'"x"y' + line[len(line.rstrip(b"\n")) :]
            lines += line != b"\n"
            out.write(line)
    return lines


def canonical_view(
    connection: duckdb.DuckDBPyConnection,
    header: Header,
    wanted: tuple[str, ...],
    namespace: str | None,
) -> None:
    """``csv_rows``: ``src`` with every canonical column under its own name (NULL when the file
    lacks it; ``namespace``, the ``--namespace`` given, when it lacks a Namespace column), what
    the parsing steps read."""
    selected = ["rn"]
    for column in wanted:
        name = header.columns.get(column)
        if name is not None:
            source = '"' + name.replace('"', '""') + '"'
        elif column == "namespace" and namespace is not None:
            source = sql_text(namespace)
        else:
            source = "NULL::VARCHAR"
        selected.append(f"{source} AS {column}")
    connection.execute(
        f"CREATE OR REPLACE TEMP VIEW csv_rows AS SELECT {', '.join(selected)} FROM src"
    )


def rejected_lines(connection: duckdb.DuckDBPyConnection) -> list[int]:
    rows = connection.execute("SELECT DISTINCT line FROM reject_errors ORDER BY line").fetchall()
    return [int(line) for (line,) in rows]


def line_of(row_number: int, not_rows: list[int]) -> int:
    """The file line of the ``row_number``-th row DuckDB kept, skipping ``not_rows``: the lines
    it rejected and the blank lines it skipped, sorted."""
    data_row = row_number
    for line in not_rows:  # line L is data row L - 1
        if line - 1 <= data_row:
            data_row += 1
    return data_row + 1  # the header is line 1


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:300]


def failure(error: Exception) -> str:
    """Why a file failed, in one line; a cut or damaged gzip stream said so plainly."""
    if isinstance(error, EOFError | zlib.error | gzip.BadGzipFile):
        return f"damaged gzip file, nothing of it imported ({_one_line(error)})"
    if isinstance(error, FileNotFoundError):  # the path is the line's first word already
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "a folder, not a file"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror[:1].lower() + error.strerror[1:]
    return _one_line(error)
