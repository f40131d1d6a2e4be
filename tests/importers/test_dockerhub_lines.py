"""Docker Hub CSV lines: one bad line is skipped and named, and every other row is imported.

DuckDB's CSV reader lets a quoted cell run past its line's end; a stray ``"`` with no closing
one made it drop every line up to the end of its buffer (over a thousand good rows, or all the
rest of a file) and report one bad line, and a bad line among the first it samples made its
sniffer refuse the whole file as "not a CSV file".
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pullstats.importers.dockerhub_csv import FileReport, SkippedRow, import_files
from pullstats.importers.dockerhub_reading import scan
from pullstats.runtime import Runtime

RAW_HEADER = (
    "Timestamp,Namespace,Repository,Reference,Digest,Tag,Action day,HTTP method,Action,Type,"
    "Host,Country,Domain,User agent tool,User agent version\n"
)
SUMMARY_HEADER = "Namespace,Repository,Reference,Unique IP count,Pull by tag,Pull by digest\n"


def raw_rows(count: int) -> list[str]:
    """``count`` good raw rows of hub/app, the i-th with user agent version ``i``."""
    return [
        f"2026-10-{i % 28 + 1:02d}T10:{i % 60:02d}:{i // 60 % 60:02d}.{i % 1000:03d}Z,hub,app,"
        f"1.0,sha256:{'c' * 64},1.0,2026-10-01,GET,pull_by_tag,,,,,docker,{i}\n"
        for i in range(count)
    ]


def imported(runtime: Runtime, path: Path) -> FileReport:
    (report,) = import_files(runtime, [path])
    assert report.status == "imported", report.error
    return report


def lake_rows(data_dir: Path, tree: str) -> int:
    parts = (data_dir / "lake" / tree).rglob("*.parquet")
    return sum(pq.read_metadata(part).num_rows for part in parts)


@pytest.mark.parametrize("gzipped", [False, True], ids=["csv", "csv.gz"])
def test_a_stray_quote_in_a_large_raw_file_skips_its_line_alone(
    runtime: Runtime, data_dir: Path, tmp_path: Path, gzipped: bool
) -> None:
    rows = raw_rows(60_000)
    rows[50_000] = '"' + rows[50_000]  # line 50002: a quote that no other closes
    text = (RAW_HEADER + "".join(rows)).encode()
    path = tmp_path / ("stray.csv.gz" if gzipped else "stray.csv")
    path.write_bytes(gzip.compress(text) if gzipped else text)
    report = imported(runtime, path)
    # before: 58974 rows imported, the 1025 good rows after line 50002 gone without a word
    assert (report.rows, dict(report.skipped)) == (59_999, {"malformed_csv": 1})
    assert report.listed == [SkippedRow(50_002, "malformed_csv", "")]
    assert lake_rows(data_dir, "imported") == 59_999
    assert not list(runtime.paths.job_tmp.glob("lines-*"))  # the copy read is removed


def test_a_stray_quote_in_a_summary_file_loses_nothing_after_it(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    rows = [f"hub,app,tag{i},1,2,0\n" for i in range(30_000)]
    rows[25_000] = 'hub,app,"tag25000,1,2,0\n'  # line 25002
    path = tmp_path / "hub_summary_2026-W41.csv"
    path.write_text(SUMMARY_HEADER + "".join(rows))
    report = imported(runtime, path)
    # before: every row from line 25002 to the end of the file was gone
    assert (report.rows, dict(report.skipped)) == (29_999, {"malformed_csv": 1})
    assert report.listed == [SkippedRow(25_002, "malformed_csv", "")]
    assert lake_rows(data_dir, "imported-summaries") == 29_999


@pytest.mark.parametrize(
    "bad",
    [
        '"' + raw_rows(11)[10],  # a quote no other closes
        raw_rows(11)[10].replace(",docker,", ',"dock"er,'),  # a quoted cell with text after it
    ],
    ids=["stray-quote", "text-after-quote"],
)
def test_a_bad_line_among_the_first_is_skipped_not_the_whole_file(
    runtime: Runtime, data_dir: Path, tmp_path: Path, bad: str
) -> None:
    rows = raw_rows(50)
    rows[10] = bad  # line 12
    path = tmp_path / "early.csv"
    path.write_text(RAW_HEADER + "".join(rows))
    # before: "error: not a CSV file: no comma-separated header row could be read"
    report = imported(runtime, path)
    assert (report.rows, dict(report.skipped)) == (49, {"malformed_csv": 1})
    assert report.listed == [SkippedRow(12, "malformed_csv", "")]
    assert lake_rows(data_dir, "imported") == 49


def test_quoted_cells_and_quotes_inside_cells_are_still_read(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    """A cell quoted for its comma or quote, and a quote inside an unquoted cell, are the
    cell's text; CRLF line ends and blank lines are read as before."""
    rows = raw_rows(4)
    rows[0] = rows[0].replace(",docker,", ',"docker, inc",')
    rows[1] = rows[1].replace(",docker,", ',"say ""hi""",')
    rows[2] = rows[2].replace(",docker,", ',do"ck"er,')
    rows[3] = rows[3].replace(",docker,", ',"x"y,')  # the one bad line, 5
    text = RAW_HEADER + rows[0] + "\n" + "".join(rows[1:])
    path = tmp_path / "quoted.csv"
    path.write_bytes(text.replace("\n", "\r\n").encode())
    report = imported(runtime, path)
    assert (report.rows, dict(report.skipped)) == (3, {"malformed_csv": 1})
    assert report.listed == [SkippedRow(6, "malformed_csv", "")]
    parts = (data_dir / "lake" / "imported").rglob("*.parquet")
    tools = sorted(t for p in parts for t in pq.read_table(p).column("user_agent_tool").to_pylist())
    assert tools == ['do"ck"er', "docker, inc", 'say "hi"']


def test_scan_counts_the_lines(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_bytes(b"a,b\n1,2\n\n3,4\r\n\r\n5,6")
    assert scan(path).lines == 6


@pytest.mark.parametrize("stray_quote", [False, True], ids=["read-once", "read-again"])
def test_a_skipped_row_after_blank_lines_is_named_by_its_own_line(
    runtime: Runtime, tmp_path: Path, stray_quote: bool
) -> None:
    # two files joined with `cat` leave blank lines: DuckDB skips them, and the rows after one
    # were named a line too early (the blank line, or a good row) among malformed lines named
    # right; a stray quote makes the import read a copy of the file, which must count the same
    rows = raw_rows(6)
    rows[1] = "\n"  # line 3
    rows[2] = "\n"  # line 4
    rows[3] = "yesterday" + rows[3][rows[3].index(",") :]  # line 5: bad_timestamp
    rows[5] = rows[5].replace("docker", "docker,extra,cells")  # line 7: malformed_csv
    if stray_quote:
        rows.append('2026-10-02T10:00:00Z,hub,"app"x,1.0\n')  # line 8: malformed_csv
    lines = [*rows, "\n", "today" + rows[4][rows[4].index(",") :]]  # line 8 (9) blank; 9 (10) bad
    path = tmp_path / "joined.csv"
    path.write_text(RAW_HEADER + "".join(lines))
    report = imported(runtime, path)
    bad_line = 10 if stray_quote else 9
    malformed = [7, 8] if stray_quote else [7]
    assert [(row.line, row.reason) for row in report.listed] == sorted(
        [(5, "bad_timestamp"), (bad_line, "bad_timestamp")]
        + [(line, "malformed_csv") for line in malformed]
    )
    assert report.rows == 2


@pytest.mark.parametrize("gzipped", [False, True], ids=["csv", "csv.gz"])
def test_lines_ending_in_both_newlines_are_read(
    runtime: Runtime, data_dir: Path, tmp_path: Path, gzipped: bool
) -> None:
    # a file edited on Windows joined to one from Linux: DuckDB's reader stopped at the first
    # change of ending and the whole file failed with "The CSV Parser state machine reached an
    # invalid state"
    rows = [row.replace("\n", "\r\n") if i % 2 else row for i, row in enumerate(raw_rows(8))]
    rows[3] = "\r\n"  # line 5: blank
    rows[5] = "yesterday" + rows[5][rows[5].index(",") :]  # line 7: bad_timestamp
    data = (RAW_HEADER.replace("\n", "\r\n") + "".join(rows)).encode()
    path = tmp_path / ("mixed.csv.gz" if gzipped else "mixed.csv")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    report = imported(runtime, path)
    assert (report.rows, dict(report.skipped)) == (6, {"bad_timestamp": 1})
    assert [(row.line, row.reason) for row in report.listed] == [(7, "bad_timestamp")]
    assert lake_rows(data_dir, "imported") == 6
