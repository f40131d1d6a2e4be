"""No CSV cell pullstats writes can start a spreadsheet formula or hold a NUL.

The property is stated on its own terms: take any text, write it as the export queries write a
cell (the same DuckDB macros), read it back with Python's csv module, remove its leading
whitespace and invisible characters; what is left does not start with a formula character,
ASCII or full-width, and the cell holds no NUL. Then the same through a real export.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator
from datetime import timedelta

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pullstats.accounts import service
from pullstats.csv_cells import safe_cell, unformula_sql
from pullstats.duckdb_engine import define
from pullstats.exports.closing import export_closed
from pullstats.exports.views import CELL_FUNCTIONS
from pullstats.pipeline import end_of_day
from pullstats.runtime import Runtime
from tests.conftest import examples
from tests.exports.test_closing import WEEK, add_requests, at, files, pull, read_csv

#: What a spreadsheet may take as the start of a formula (U+FF1D… full-width, U+FE62… small).
FORMULA = "=+-@＝＋－＠﹢﹣﹦﹫"
#: Characters a reader does not see, put before a formula to hide it.
HIDERS = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\xa0", "\u3000", "\u2028", "\x00", "\x1f"]
HIDERS += ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\u180e"]
HIDERS += ["\u202e", "\u2066", "\xad", "\U000e0001"]


def visible_rest(cell: str) -> str:
    """``cell`` without its leading whitespace, control and zero-width (format) characters."""
    index = 0
    while index < len(cell) and (
        cell[index].isspace() or unicodedata.category(cell[index]) in ("Cc", "Cf", "Zs")
    ):
        index += 1
    return cell[index:]


@pytest.fixture(scope="module")
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as db:
        define(db, CELL_FUNCTIONS)
        yield db


def written_cell(connection: duckdb.DuckDBPyConnection, text: str) -> str:
    """``text`` written as an export writes a text cell, and read back as a CSV reader would."""
    row = connection.execute("SELECT text_cell(?)", [text]).fetchone()
    assert row is not None
    # a second cell after it, as in a real line, so an empty cell is a cell too
    rows = list(csv.reader(io.StringIO(str(row[0]) + ",end\r\n", newline="")))
    assert len(rows) == 1 and rows[0][1:] == ["end"], rows
    return rows[0][0]


hidden_formulas = st.builds(
    lambda hiders, formula, rest: hiders + formula + rest,
    st.text(alphabet=st.sampled_from(HIDERS), max_size=4),
    st.sampled_from(FORMULA),
    st.text(max_size=12),
)


@pytest.mark.slow
@settings(max_examples=examples(400), deadline=None)
@given(st.text() | hidden_formulas)
@example(" =1+1")
@example("\n=cmd|' /C calc'!A0")
@example('\u200b=HYPERLINK("http://x")')
@example("\ufeff@SUM(A1)")
@example("＝1+1")
@example("a\x00b")
@example("\x00=1")
@example("")
@example("'=1")
def test_no_written_cell_can_start_a_formula_or_hold_a_nul(
    connection: duckdb.DuckDBPyConnection, text: str
) -> None:
    cell = written_cell(connection, text)
    assert "\x00" not in cell
    rest = visible_rest(cell)
    assert rest[:1] not in FORMULA or rest == "", (text, cell)
    # the SQL is the Python rule, and the cell keeps everything but the NULs
    assert cell == safe_cell(text)
    assert cell.removeprefix("'") == text.replace("\x00", "\ufffd") or cell == text.replace(
        "\x00", "\ufffd"
    )
    # a pullstats export imported again (pullstats import dockerhub-csv) loses the ' it added;
    # text that itself starts with ' and a neutralised character ("'=1") cannot be told from
    # a neutralised cell, and loses its own '
    clean = text.replace("\x00", "\ufffd")
    row = connection.execute(f"SELECT {unformula_sql('c')} FROM (SELECT ? AS c)", [cell]).fetchone()
    assert row is not None
    if clean.startswith("'") and safe_cell(clean[1:]) != clean[1:] and cell == clean:
        assert row[0] == clean[1:]
    else:
        assert row[0] == clean


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("docker/27.3.1", "docker/27.3.1"),
        ("=1+1", "'=1+1"),
        (" =1+1", "' =1+1"),
        ("\n=1+1", "'\n=1+1"),
        ("\u200b=1+1", "'\u200b=1+1"),
        ("\ufeff=1+1", "'\ufeff=1+1"),
        ("＝1+1", "'＝1+1"),
        ("＠SUM(A1)", "'＠SUM(A1)"),
        ("a\x00b", "a\ufffdb"),
        ("1.0", "1.0"),
        ("'quoted", "'quoted"),
    ],
)
def test_cells_worked_by_hand(connection: duckdb.DuckDBPyConnection, text: str, cell: str) -> None:
    assert written_cell(connection, text) == cell


def test_a_real_export_neutralises_every_text_cell(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
    agents = [' =HYPERLINK("http://evil")', "\u200b@SUM(A1)", "＝1+1", "curl\x00/8"]
    add_requests(
        runtime,
        *[
            pull(str(i), at(WEEK.start, 60 * i), "acme/api", "1.0", f"192.0.2.{i}", ua=agent)
            for i, agent in enumerate(agents, start=1)
        ],
    )
    export_closed(runtime, now=end_of_day(WEEK.end) + timedelta(hours=3))
    header, *rows = read_csv(runtime, files(runtime, "acme", WEEK)["raw"])
    user_agents = [row[header.index("user_agent")] for row in rows]
    assert user_agents == [
        '\' =HYPERLINK("http://evil")',
        "'\u200b@SUM(A1)",
        "'＝1+1",
        "curl\ufffd/8",
    ]
    for row in rows:
        for cell in row:
            assert "\x00" not in cell
            assert visible_rest(cell)[:1] not in FORMULA or visible_rest(cell) == ""
