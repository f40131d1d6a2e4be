"""Docker Hub files as Docker documents them (issue 21): the data-point table's spellings,
columns that are not imported, damaged gzip files, unregistered namespaces, summaries without a
period, and Docker's ``null``. Expected numbers are worked by hand from the rows written here."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import select

from pullstats.accounts import service
from pullstats.db.models import CountryRollup, PullRollup
from pullstats.importers.dockerhub_csv import content_sha256, import_files
from pullstats.importers.dockerhub_reading import scan
from pullstats.ingest.dockerhub_columns import period_from_label
from pullstats.periods import Period
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import run_cli

W02 = Period.week(2026, 2)  # 2026-01-05 .. 2026-01-11

# a repository-level summary in the data-point table's words ("Unique IP address"), with a
# column nobody knows ("Pulls total")
REPO_SUMMARY = (
    (
        "Period start,Period end,Namespace,Repository,Unique IP address,"
        "Pull by tag,Pull by digest,Version check,Pulls total\n"
    )
    + """\
2026-01-05,2026-01-11,acme,api,7,10,2,3,15
2026-01-05,2026-01-11,acme,web,2,1,0,0,1
"""
)

RAW = (
    (
        "Timestamp,Namespace,Repository,Reference,Digest,Tag (included when available),Action day,"
        "HTTP method,Action,Type,Host,Country,Domain,User agent tool,User agent version,Owner\n"
    )
    + """\
2026-01-05T10:00:00Z,acme,api,1.0,sha256:aaa,1.0,2026-01-05,GET,pull_by_tag,null,null,US,null,docker,27.3.1,acme
2026-01-05T11:00:00Z,acme,api,1.0,sha256:aaa,1.0,2026-01-05,GET,pull_by_tag,NULL,aws,null,,docker,null,acme
2026-01-05T12:00:00Z,acme,api,1.0,sha256:aaa,1.0,2026-01-05,GET,pull_by_tag,business,aws,DE,example.com,docker,27.3.1,acme
"""
)


def _register(runtime: Runtime, namespace: str) -> None:
    with runtime.sessions.begin() as session:
        service.create_namespace(session, namespace)


def _repository_rollups(runtime: Runtime) -> dict[str, tuple[int, int, int, int]]:
    with runtime.sessions() as session:
        rows = session.scalars(
            select(PullRollup).where(
                PullRollup.level == "repository",
                PullRollup.period_kind == "week",
                PullRollup.period_start == W02.start,
            )
        )
        return {
            r.repository: (r.pull_by_tag, r.pull_by_digest, r.version_check, r.unique_ip_count)
            for r in rows
        }


def test_unique_ip_address_is_read_and_unknown_columns_are_listed(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    _register(runtime, "acme")
    path = tmp_path / "acme_repo-summary_2026-W02.csv"
    path.write_text(REPO_SUMMARY)
    result = run_cli(data_dir, "import", "dockerhub-csv", str(path))
    assert result.returncode == 0, result.stderr
    assert f"{path}: repo-summary, 2 rows imported; periods 2026-W02" in result.stdout
    assert result.stderr.splitlines() == [f"{path}: columns not imported: Pulls total"]
    process(runtime)
    # the unique IPs are the file's 7 and 2, not 0 (before: the column was dropped silently)
    assert _repository_rollups(runtime) == {"api": (10, 2, 3, 7), "web": (1, 0, 0, 2)}


def test_a_damaged_gzip_file_is_named_imports_nothing_and_the_others_go_on(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    _register(runtime, "acme")
    whole = gzip.compress(REPO_SUMMARY.encode())
    cut = tmp_path / "acme_repo-summary_2026-W02.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    raw = tmp_path / "acme_raw_2026-W02.csv"
    raw.write_text(RAW)
    result = run_cli(data_dir, "import", "dockerhub-csv", str(cut), str(raw))
    assert result.returncode == 1
    assert "Aborted" not in result.stderr + result.stdout
    assert f"{cut}: error: damaged gzip file, nothing of it imported" in result.stderr
    assert f"{raw}: raw, 3 rows imported" in result.stdout  # the file after it still imported
    assert "error: 1 of 2 files could not be imported" in result.stderr
    assert not (data_dir / "lake" / "imported-summaries").exists()
    assert list((data_dir / "lake" / "imported-files").iterdir()) == [
        data_dir / "lake" / "imported-files" / f"{content_sha256(raw)}.json"
    ]
    # an empty file (a download that failed) said "no Namespace column in the header (column0)"
    for empty in (tmp_path / "empty.csv", tmp_path / "empty.csv.gz"):
        empty.write_bytes(gzip.compress(b"") if empty.suffix == ".gz" else b"")
        refused = run_cli(data_dir, "import", "dockerhub-csv", str(empty))
        assert refused.returncode == 1
        assert f"{empty}: error: an empty file: no header, no rows" in refused.stderr


def test_a_file_that_cannot_be_read_is_one_plain_line_and_a_header_cannot_drive_the_terminal(
    data_dir: Path, tmp_path: Path
) -> None:
    """A missing file or a folder: the reason in words, the path once (before: ``[Errno 2] No
    such file or directory: '…'``). A header with a terminal escape or NUL bytes: shown escaped
    (before: written raw to stderr, where it could colour or rewrite the terminal)."""
    missing, folder = tmp_path / "nothing.csv", tmp_path / "folder.csv"
    folder.mkdir()
    hostile = tmp_path / "hostile.csv"
    hostile.write_bytes(b"a\x1b[31mRED\x1b[0m,b\x00\n1,2\n")
    result = run_cli(data_dir, "import", "dockerhub-csv", str(missing), str(folder), str(hostile))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert f"{missing}: error: no such file" in lines
    assert f"{folder}: error: a folder, not a file" in lines
    assert "\x1b" not in result.stderr and "\x00" not in result.stderr
    (said,) = [line for line in lines if line.startswith(f"{hostile}: error: ")]
    assert "a\\x1b[31mRED\\x1b[0m" in said, said
    assert lines[-1] == "error: 3 of 3 files could not be imported"


UTF16 = "UTF-16 text (it starts with a byte order mark), which pullstats does not read: "


def test_a_utf16_file_is_refused_saying_so_and_a_utf8_byte_order_mark_is_read(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    """UTF-16 (Windows' "Unicode" text) said ``no Namespace column in the header
    (\\x002\\x000…)``; it is told as ``ingest logs`` tells it, with the iconv to run. The file is
    read twice (a pipe is refused), so the hint saves a copy instead of a ``<(…)`` pipe."""
    little, big = tmp_path / "acme_raw_le.csv", tmp_path / "acme_raw_be.csv"
    little.write_bytes(RAW.encode("utf-16"))  # Python writes the byte order mark, little-endian
    big.write_bytes(b"\xfe\xff" + RAW.encode("utf-16-be"))
    packed = tmp_path / "acme_raw_le.csv.gz"
    packed.write_bytes(gzip.compress(RAW.encode("utf-16")))
    marked = tmp_path / "acme_raw_bom.csv"  # UTF-8 with a byte order mark, as Excel saves it
    marked.write_bytes(b"\xef\xbb\xbf" + RAW.encode())
    args = ("import", "dockerhub-csv", str(little), str(big), str(packed), str(marked))
    result = run_cli(data_dir, *args)
    assert result.returncode == 1
    iconv = "iconv -f UTF-16 -t UTF-8"
    assert [line for line in result.stderr.splitlines() if "error: " in line] == [
        f"{little}: error: {UTF16}save it as UTF-8 and import that: {iconv} FILE > FILE-utf8.csv",
        f"{big}: error: {UTF16}save it as UTF-8 and import that: {iconv} FILE > FILE-utf8.csv",
        f"{packed}: error: {UTF16}save it as UTF-8 and import that: zcat FILE | {iconv} > "
        "FILE-utf8.csv",
        "error: 3 of 4 files could not be imported",
    ]
    assert f"{marked}: raw, 3 rows imported" in result.stdout
    # nothing of a refused file was recorded: only the UTF-8 one is in the lake
    assert list((data_dir / "lake" / "imported-files").iterdir()) == [
        data_dir / "lake" / "imported-files" / f"{content_sha256(marked)}.json"
    ]


def test_a_file_that_is_not_utf8_is_refused_whole_with_the_iconv_to_run(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    """A CSV a spreadsheet saved as Windows-1252 lost its rows with accents as ``malformed_csv``
    (all of them when every row had one) and the command exited 0. It is refused whole now,
    naming the line and the byte and the iconv to run, and the converted file imports every
    row."""
    accented = RAW.replace("example.com", "bücher.example")  # the third row: line 4
    excel = tmp_path / "acme_raw_excel.csv"
    excel.write_bytes(accented.encode("cp1252"))
    packed = tmp_path / "acme_raw_excel.csv.gz"
    packed.write_bytes(gzip.compress(accented.encode("cp1252")))
    result = run_cli(data_dir, "import", "dockerhub-csv", str(excel), str(packed))
    assert result.returncode == 1
    said = "error: not UTF-8 (line 4 holds the byte 0xFC), nothing of it imported: save it as "
    said += "UTF-8 and import that; from Windows-1252, as spreadsheets save a CSV: "
    assert [line for line in result.stderr.splitlines() if "error: " in line] == [
        f"{excel}: {said}iconv -f WINDOWS-1252 -t UTF-8 FILE > FILE-utf8.csv",
        f"{packed}: {said}zcat FILE | iconv -f WINDOWS-1252 -t UTF-8 > FILE-utf8.csv",
        "error: 2 of 2 files could not be imported",
    ]
    assert not list((data_dir / "lake" / "imported-files").glob("*"))  # nothing recorded
    converted = tmp_path / "acme_raw_excel-utf8.csv"
    converted.write_bytes(excel.read_bytes().decode("cp1252").encode())
    [report] = import_files(runtime, [converted])
    assert (report.status, report.rows, dict(report.skipped)) == ("imported", 3, {})


def test_the_utf8_check_finds_the_first_other_byte_across_blocks(tmp_path: Path) -> None:
    """The check reads the content in blocks of 1 MiB: a character split by a block's end is
    UTF-8, and a bad byte is placed by the line breaks of the blocks before it."""
    block = 1 << 20
    cases = {
        # é (c3 a9) across the first block's end
        b"h\n" + b"x" * (block - 3) + "é\n".encode(): None,
        # a bad byte in the second block, on line 4
        b"h\n" + b"x" * block + b"\nok\nbad\xff\n": (4, 0xFF),
        # a character begun at the first block's end and not finished in the next
        b"h\n" + b"x" * (block - 3) + b"\xc3A\n": (2, 0xC3),
        # a character cut short by the end of the file
        b"h\nabc\xc3": (2, 0xC3),
        b"h\n\xe9t\xe9\n": (2, 0xE9),  # Latin-1's é
    }
    for number, (content, expected) in enumerate(cases.items()):
        path = tmp_path / f"case{number}.csv"
        path.write_bytes(content)
        assert scan(path).not_utf8 == expected, number


def test_an_unregistered_namespace_is_kept_and_said(runtime: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "beta_raw_2026-W02.csv"
    path.write_text(RAW.replace(",acme,", ",beta,"))
    [report] = import_files(runtime, [path])
    assert report.status == "imported" and report.rows == 3
    assert report.unregistered == ["beta"]
    _register(runtime, "beta")
    again = tmp_path / "beta_raw_2026-W02-copy.csv"
    again.write_text(RAW.replace(",acme,", ",beta,").replace("T12:", "T13:"))
    [second] = import_files(runtime, [again])
    assert second.unregistered == []


def test_an_unregistered_namespace_is_said_once_for_the_whole_import(
    data_dir: Path, tmp_path: Path
) -> None:
    """Before, once per file: a year of weekly files said it 52 times."""
    files = []
    for hour in ("12", "13", "14"):
        path = tmp_path / f"beta_raw_{hour}.csv"
        path.write_text(RAW.replace(",acme,", ",beta,").replace("T12:", f"T{hour}:"))
        files.append(str(path))
    result = run_cli(data_dir, "import", "dockerhub-csv", *files)
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "not registered" in line] == [
        "namespace 'beta' is not registered: its history (3 files) is kept and shown once it "
        "is (pullstats namespaces add beta)"
    ]


def test_a_summary_without_a_period_takes_the_one_given(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    _register(runtime, "acme")
    path = tmp_path / "summary.csv"  # Docker's own name: no period in it, none in its columns
    path.write_text(
        "Namespace,Repository,Unique IP address,Pull by tag,Pull by digest,Version check\n"
        "acme,api,3,4,0,1\n"
    )
    refused = run_cli(data_dir, "import", "dockerhub-csv", str(path))
    assert refused.returncode == 1
    assert "or --period" in refused.stderr
    bad = run_cli(data_dir, "import", "dockerhub-csv", "--period", "2026-W60", str(path))
    assert bad.returncode != 0
    assert "--period '2026-W60': expected an ISO week (2026-W41) or a month" in bad.stderr
    done = run_cli(data_dir, "import", "dockerhub-csv", "--period", "2026-W02", str(path))
    assert done.returncode == 0, done.stderr
    assert f"{path}: repo-summary, 1 row imported; periods 2026-W02" in done.stdout
    process(runtime)
    assert _repository_rollups(runtime) == {"api": (4, 0, 1, 3)}


def test_a_period_given_to_files_that_say_their_own_is_said_unused(
    data_dir: Path, tmp_path: Path
) -> None:
    """As ``--namespace`` is to a file with a Namespace column: before, ``--period`` was dropped
    without a word, and an operator could believe a raw file was counted in the week given."""
    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "dockerhub"
    raw, columns = tmp_path / "acme_raw.csv", tmp_path / "acme_repo-summary.csv"
    raw.write_text(RAW)
    columns.write_text(REPO_SUMMARY)
    core = fixtures / "dvp-core_summary_weekly.csv"
    bare = tmp_path / "summary.csv"  # no period columns, none in its name: it takes the one given
    bare.write_text("Namespace,Repository,Unique IP address,Pull by tag\nacme,api,3,4\n")
    args = ("import", "dockerhub-csv", "--period", "2026-W03", str(raw), str(columns), str(core))
    result = run_cli(data_dir, *args, str(bare))
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "--period" in line] == [
        f"{raw}: --period not used: a raw file's rows are counted on the days of their timestamps",
        f"{columns}: --period not used: the file's Period start/Period end columns name its "
        "periods",
        f"{core}: --period not used: each row of a DVP Core report names its period "
        "(DATE_GRANULARITY, DATE_REFERENCE)",
    ]
    assert f"{bare}: repo-summary, 1 row imported; periods 2026-W03" in result.stdout
    assert f"{columns}: repo-summary, 2 rows imported; periods 2026-W02" in result.stdout


def test_period_labels_are_whole() -> None:
    assert period_from_label("2026-W02") == W02
    assert period_from_label(" 2026-01 ") == Period.month(2026, 1)
    assert period_from_label("x2026-01") is None
    assert period_from_label("2026-W53") == Period.week(2026, 53)  # 2026 has 53 ISO weeks
    assert period_from_label("2025-W53") is None  # 2025 has 52
    assert period_from_label("2026-13") is None


def test_dockers_null_is_stored_as_unknown(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "acme_raw_2026-W02.csv"
    path.write_text(RAW)
    [report] = import_files(runtime, [path])
    assert report.status == "imported" and report.rows == 3
    assert report.ignored_columns == ("Owner",)
    part = data_dir / f"lake/imported/day=2026-01-05/part-{content_sha256(path)}.parquet"
    stored = sorted(pq.read_table(part).to_pylist(), key=lambda row: row["timestamp"])
    shown = ["type", "host", "country", "domain", "user_agent_version", "tag"]
    assert [[row[c] for c in shown] for row in stored] == [
        ["", "", "US", "", "27.3.1", "1.0"],
        ["", "aws", "", "", "", "1.0"],
        ["business", "aws", "DE", "example.com", "27.3.1", "1.0"],
    ]


def test_a_country_that_is_no_code_counts_as_unknown_and_stops_nothing(
    runtime: Runtime, tmp_path: Path
) -> None:
    # before: "Germany" went into country_rollups as GERMANY, which a PostgreSQL catalog's
    # two-letter column refused, so every later `process` failed on that period
    _register(runtime, "acme")
    path = tmp_path / "acme_raw_2026-W02.csv"
    path.write_text(
        "Timestamp,Namespace,Repository,Reference,Action,Country\n"
        "2026-01-05T10:00:00Z,acme,api,1.0,pull_by_tag,Germany\n"
        "2026-01-05T11:00:00Z,acme,api,1.0,pull_by_tag,de\n"
        "2026-01-05T12:00:00Z,acme,api,1.0,pull_by_tag,D1\n"
    )
    [report] = import_files(runtime, [path])
    assert report.rows == 3
    process(runtime)
    with runtime.sessions() as session:
        countries = {
            r.country: r.pull_by_tag
            for r in session.scalars(
                select(CountryRollup).where(
                    CountryRollup.level == "namespace",
                    CountryRollup.period_kind == "week",
                    CountryRollup.period_start == W02.start,
                )
            )
        }
    assert countries == {"DE": 1, "ZZ": 2}
