"""Reading a Docker Hub CSV(.gz) file for the import (:mod:`.dockerhub_csv`): its content hash,
its header and rows as a DuckDB view under canonical names, the lines DuckDB could not split,
and why a whole file failed, in one line."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import duckdb

from pullstats.ingest.dockerhub_columns import Header, UnrecognisedFile, parse_header
from pullstats.ingest.log_lines import as_utf8, refuse_utf16
from pullstats.sql_literals import sql_text

__all__ = ["canonical_view", "content_sha256", "failure", "line_of", "load", "rejected_lines"]


def content_sha256(path: Path) -> str:
    """SHA-256 of the file's content, gunzipped first when it is gzip."""
    digest = hashlib.sha256()
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def load(connection: duckdb.DuckDBPyConnection, path: Path, namespace_given: bool) -> Header:
    """``src``: the file's rows (every column text, numbered ``rn`` in file order, the lines
    DuckDB cannot split left in ``reject_errors``); its header's kind and columns.
    :class:`~pullstats.ingest.log_lines.UnreadEncoding` for UTF-16 text (what Windows tools
    save as "Unicode"), which DuckDB would read as a header of names full of NULs."""
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    compression = "gzip" if gzipped else "none"
    with gzip.open(path, "rb") if gzipped else open(path, "rb") as text:
        head = text.read(2)
    # not through a pipe, as a log may be: the file is read twice (see dockerhub_csv)
    refuse_utf16(
        head,
        f"save it as UTF-8 and import that: {as_utf8('zcat' if gzipped else None)} > FILE-utf8.csv",
    )
    # a view cannot take prepared parameters: the path is quoted as a SQL literal instead
    try:
        connection.execute(
            f"""
            CREATE TEMP VIEW src AS
            SELECT row_number() OVER () AS rn, *
            FROM read_csv(
                {sql_text(path)}, header = true, all_varchar = true, delim = ',',
                quote = '"', escape = '"', compression = '{compression}',
                ignore_errors = true, store_rejects = true
            )
            """
        )
        names = [row[0] for row in connection.execute("DESCRIBE src").fetchall()][1:]
    except duckdb.Error:
        # DuckDB's own message is a page about its CSV sniffer, of no use to an operator
        raise UnrecognisedFile(
            "not a CSV file: no comma-separated header row could be read "
            "(expected a Docker Hub DVP CSV export, see docs/dockerhub-import.md)"
        ) from None
    return parse_header(names, namespace_given)


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
    connection.execute(f"CREATE TEMP VIEW csv_rows AS SELECT {', '.join(selected)} FROM src")


def rejected_lines(connection: duckdb.DuckDBPyConnection) -> list[int]:
    rows = connection.execute("SELECT DISTINCT line FROM reject_errors ORDER BY line").fetchall()
    return [int(line) for (line,) in rows]


def line_of(row_number: int, rejected: list[int]) -> int:
    """The file line of the ``row_number``-th row DuckDB kept, skipping its rejected lines."""
    data_row = row_number
    for line in rejected:  # rejected lines are sorted; line L is data row L - 1
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
