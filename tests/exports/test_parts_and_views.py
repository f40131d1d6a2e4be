"""Parts, gzip bytes, period edges and the views tied together, on real files."""

from __future__ import annotations

import csv
import gzip
import io
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pullstats.db.models import ExportFile
from pullstats.demo.catalog import DEMO_CATALOG
from pullstats.demo.spool_encoding import to_spool_lines
from pullstats.demo.synthetic import generate_requests
from pullstats.exports.closing import export_closed
from pullstats.exports.files import BLOCK_BYTES, Compressor, GzipFile
from pullstats.exports.parts import PartWriter
from pullstats.lake.spool import SpoolWriter
from pullstats.periods import Period
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, fresh_runtime
from tests.exports.test_closing import add_requests, at, pull, register

NOW = end_of_day(date(2026, 11, 1))  # everything below is closed by then


def entries(runtime: Runtime, namespace: str, period: Period, view: str) -> list[ExportFile]:
    with runtime.sessions() as session:
        return list(
            session.query(ExportFile)
            .filter_by(
                namespace=namespace,
                period_kind=period.kind.value,
                period_start=period.start,
                view=view,
            )
            .order_by(ExportFile.part)
        )


def text_of(runtime: Runtime, entry: ExportFile) -> str:
    return gzip.decompress((runtime.paths.exports / entry.path).read_bytes()).decode()


def rows_of(runtime: Runtime, entry: ExportFile) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text_of(runtime, entry))))


# -- gzip bytes and part boundaries ----------------------------------------------------------


def test_parallel_gzip_is_valid_deterministic_and_independent_of_threads(
    tmp_path: Path,
) -> None:
    data = b"".join(b"%d,row with some text,%d\r\n" % (i, i * i) for i in range(150_000))
    assert len(data) > 2 * BLOCK_BYTES  # several blocks, primed from the previous one
    outputs = []
    for threads in (1, 3):
        target = tmp_path / f"out{threads}.csv.gz"
        with Compressor(threads) as compressor:
            file = GzipFile(target, compressor)
            for start in range(0, len(data), 70_001):  # writes that straddle blocks
                file.write(data[start : start + 70_001])
            size, _ = file.close()
        assert size == target.stat().st_size
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    assert gzip.decompress(outputs[0]) == data  # checks CRC-32 and length too
    assert outputs[0][:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # mtime 0, no name
    assert (
        subprocess.run(["gzip", "-t", str(tmp_path / "out1.csv.gz")], check=False).returncode == 0
    )


def test_part_boundaries_depend_on_the_rows_not_on_batching(tmp_path: Path) -> None:
    lines = [f"{i},{'x' * (i % 37)}\r\n" for i in range(500)]
    header = b"n,text\r\n"
    results = []
    for batch in (1, 7, 500):
        folder = tmp_path / str(batch)
        folder.mkdir()
        with Compressor(2) as compressor:
            writer = PartWriter(folder, lambda n: f"part{n:03d}.csv.gz", header, 1000, compressor)
            for start in range(0, len(lines), batch):
                writer.write_lines(pa.array(lines[start : start + batch]))
            parts = writer.close()
        results.append([(p.file_name, p.rows, p.sha256) for p in parts])
        texts = [gzip.decompress(p.path.read_bytes()) for p in parts]
        assert all(t.startswith(header) and len(t) <= 1000 for t in texts)
        assert b"".join(t[len(header) :] for t in texts) == "".join(lines).encode()
        assert sum(p.rows for p in parts) == 500
    assert results[0] == results[1] == results[2]
    assert len(results[0]) > 5


def test_a_row_longer_than_a_part_is_a_part_of_its_own(tmp_path: Path) -> None:
    with Compressor(1) as compressor:
        writer = PartWriter(tmp_path, lambda n: f"p{n}.gz", b"h\r\n", 50, compressor)
        writer.write_lines(pa.array(["a\r\n", "b" * 80 + "\r\n", "c\r\n"]))
        parts = writer.close()
    texts = [gzip.decompress(p.path.read_bytes()) for p in parts]
    assert texts == [b"h\r\na\r\n", b"h\r\n" + b"b" * 80 + b"\r\n", b"h\r\nc\r\n"]


# -- parts in the catalog --------------------------------------------------------------------

WEEK = Period.week(2026, 2)


@pytest.mark.slow
def test_views_split_into_parts_and_shrink_cleanly(data_dir: Path) -> None:
    small = Runtime.open(catalog_settings(data_dir, export_part_bytes=4096))
    try:
        register(small, "acme")
        add_requests(
            small,
            *(
                pull(f"p{i}", at(WEEK.start, 60 * i), "acme/api", f"1.{i % 9}", f"192.0.2.{i}")
                for i in range(120)
            ),
        )
        export_closed(small, now=NOW)
        raw = entries(small, "acme", WEEK, "raw")
        assert [e.part for e in raw] == list(range(1, len(raw) + 1))
        assert len(raw) >= 3
        assert [e.file_name for e in raw][:2] == [
            "acme_raw_2026-W02_part001.csv.gz",
            "acme_raw_2026-W02_part002.csv.gz",
        ]
        split = [rows_of(small, e) for e in raw]
        header = split[0][0]
        assert all(part[0] == header for part in split)
        assert all(len(text_of(small, e).encode()) <= 4096 for e in raw)
        assert sum(e.rows for e in raw) == 120
        first = {(e.view, e.part): e.sha256 for e in entries(small, "acme", WEEK, "raw")}
        export_closed(small, now=NOW, rebuild=True)  # same data, same parts, same bytes
        again = {(e.view, e.part): e.sha256 for e in entries(small, "acme", WEEK, "raw")}
        assert again == first
    finally:
        small.close()
    large = Runtime.open(catalog_settings(data_dir))
    try:
        export_closed(large, now=NOW, rebuild=True)
        whole = entries(large, "acme", WEEK, "raw")
        assert [e.part for e in whole] == [1]  # the old parts are no longer listed
        assert rows_of(large, whole[0]) == [header] + [r for part in split for r in part[1:]]
        folders = list((large.paths.exports / "acme" / WEEK.label).iterdir())
        assert folders == [(large.paths.exports / whole[0].path).parent]
    finally:
        large.close()


# -- period edges ----------------------------------------------------------------------------

#: (day, its ISO week's label, its month's label): each day pulled in a namespace of its own
NEW_YEAR_DAYS = {
    # ISO week 1 of 2026 begins in December
    "newyear1": (date(2025, 12, 30), "2026-W01", "2025-12"),
    # week 53 of 2020 ends in January 2021
    "newyear2": (date(2021, 1, 2), "2020-W53", "2021-01"),
    # 2025 has 52 weeks: its last Sunday
    "newyear3": (date(2025, 12, 28), "2025-W52", "2025-12"),
}
#: (month, its days): each month's first and last day, and the day after, in a namespace of
#: its own
MONTHS = {
    "month28": (Period.month(2026, 2), 28),
    "month29": (Period.month(2024, 2), 29),
    "month30": (Period.month(2026, 4), 30),
    "month31": (Period.month(2026, 1), 31),
}


@pytest.fixture(scope="module")
def edges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """One installation, processed and exported once, that the period-edge tests only read:
    each case's pulls are in a namespace of its own, and each test reads its namespace's files
    alone (the exports are per namespace), as if it were the installation's only one."""
    runtime = fresh_runtime(catalog_settings(tmp_path_factory.mktemp("edges") / "data"))
    try:
        register(runtime, *NEW_YEAR_DAYS, *MONTHS)
        records = [
            pull(f"{namespace}-a", at(day, 3600), f"{namespace}/api", "1.0", "192.0.2.1")
            for namespace, (day, _, _) in NEW_YEAR_DAYS.items()
        ]
        for namespace, (month, days) in MONTHS.items():
            last = month.start + timedelta(days=days - 1)
            records += [
                pull(f"{namespace}-first", at(month.start, 0), f"{namespace}/api", "1.0",
                     "192.0.2.1"),
                pull(f"{namespace}-last", at(last, 86_399.5), f"{namespace}/api", "1.0",
                     "192.0.2.2"),
                pull(f"{namespace}-after", at(last + timedelta(days=1), 0), f"{namespace}/api",
                     "1.0", "192.0.2.3"),
            ]  # fmt: skip
        add_requests(runtime, *records)
        # every period here closed long before
        export_closed(runtime, now=end_of_day(date(2027, 2, 1)))
        yield runtime
    finally:
        runtime.close()


#: the tests of ``edges`` on one worker, so that it is made once (xdist --dist loadgroup)
EDGES_GROUP = pytest.mark.xdist_group("exports-period-edges")


@EDGES_GROUP
@pytest.mark.parametrize("namespace", NEW_YEAR_DAYS)
def test_weeks_across_new_year_are_named_by_iso_year(edges: Runtime, namespace: str) -> None:
    _, week_label, month_label = NEW_YEAR_DAYS[namespace]
    with edges.sessions() as session:
        names = set(
            session.query(ExportFile.file_name).filter_by(namespace=namespace, view="summary").all()
        )
    assert names == {
        (f"{namespace}_summary_{week_label}_part001.csv.gz",),
        (f"{namespace}_summary_{month_label}_part001.csv.gz",),
    }


def test_week_53_spans_new_year_and_a_52_week_year_has_none() -> None:
    week = Period.week(2026, 53)
    assert (week.start, week.end) == (date(2026, 12, 28), date(2027, 1, 3))
    assert week.label == "2026-W53"
    with pytest.raises(ValueError):
        Period.week(2025, 53)  # a 52-week year has no week 53


@pytest.mark.slow
@EDGES_GROUP
@pytest.mark.parametrize("namespace", MONTHS)
def test_months_of_28_to_31_days_cover_their_first_and_last_day(
    edges: Runtime, namespace: str
) -> None:
    month, days = MONTHS[namespace]
    last = month.start + timedelta(days=days - 1)
    raw = rows_of(edges, entries(edges, namespace, month, "raw")[0])
    assert [row[0] for row in raw[1:]] == [
        f"{month.start.isoformat()}T00:00:00.000Z",
        f"{last.isoformat()}T23:59:59.500Z",
    ]
    summary = rows_of(edges, entries(edges, namespace, month, "namespace-summary")[0])
    assert summary[1][:2] == [f"{month.start}T00:00:00Z", f"{last}T23:59:59Z"]


def test_an_incomplete_or_empty_period_gets_no_files(runtime: Runtime) -> None:
    register(runtime, "acme")
    add_requests(runtime, pull("a", at(WEEK.start, 10), "acme/api", "1.0", "192.0.2.1"))
    export_closed(runtime, now=end_of_day(WEEK.end - timedelta(days=1)))  # still open
    assert entries(runtime, "acme", WEEK, "raw") == []
    export_closed(runtime, now=NOW)
    assert entries(runtime, "acme", WEEK, "raw") != []
    empty_week = Period.week(2026, 3)  # closed, but acme has no action in it
    assert entries(runtime, "acme", empty_week, "raw") == []


# -- the views tied together -----------------------------------------------------------------


def _spool_synthetic(runtime: Runtime, start: date, days: int) -> None:
    writer = SpoolWriter(runtime.paths.spool, segment_bytes=64 << 20)
    try:
        received = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1e6)
        for table in generate_requests(
            DEMO_CATALOG, start=start, days=days, requests_per_day=800, seed=6,
            received_us=received,
        ):  # fmt: skip
            writer.append(to_spool_lines(table))
    finally:
        writer.close()


@pytest.mark.slow
def test_summaries_equal_the_raw_file_aggregated_and_exact_ip_counts(runtime: Runtime) -> None:
    register(runtime, "acme", "globex")
    _spool_synthetic(runtime, WEEK.start, 7)
    process(runtime)
    export_closed(runtime, now=NOW)
    for namespace in ("acme", "globex"):
        raw = [
            row for e in entries(runtime, namespace, WEEK, "raw") for row in rows_of(runtime, e)[1:]
        ]
        assert len(raw) > 300
        counts: Counter[tuple[str, ...]] = Counter()
        for row in raw:
            ns, repo, ref, action = row[1], row[2], row[3], row[8]
            for key in ((ns, repo, ref), (ns, repo), (ns,)):
                counts[(*key, action)] += 1
        lake = duckdb.connect()
        files = [
            str(runtime.paths.actions_day(WEEK.start + timedelta(days=d)) / "actions.parquet")
            for d in range(7)
        ]
        for view, width in (("summary", 3), ("repo-summary", 2), ("namespace-summary", 1)):
            rows = rows_of(runtime, entries(runtime, namespace, WEEK, view)[0])[1:]
            assert rows
            keys = ["namespace", "repository", "reference"][:width]
            exact = dict(
                lake.execute(
                    f"SELECT concat_ws('|', {', '.join(keys)}), count(DISTINCT ip_hash) "
                    f"FROM read_parquet($files) WHERE namespace = $ns GROUP BY ALL",
                    {"files": files, "ns": namespace},
                ).fetchall()
            )
            assert len(exact) == len(rows)
            for row in rows:
                key = tuple(row[2 : 2 + width])
                ips, by_tag, by_digest, checks = map(int, row[2 + width :])
                assert by_tag == counts[(*key, "pull_by_tag")]
                assert by_digest == counts[(*key, "pull_by_digest")]
                assert checks == counts[(*key, "version_check")]
                assert ips == exact["|".join(key)]


def test_raw_queries_read_runs_of_days_up_to_a_size(tmp_path: Path) -> None:
    from pullstats.exports.writing import raw_query_groups

    sizes = [10, 10, 10, 50, 10, 10, 90, 10]  # bytes of each day file, in day order
    files = []
    for day, size in enumerate(sizes):
        file = tmp_path / f"day{day}.parquet"
        file.write_bytes(b"x" * size)
        files.append(file)

    def size_of(file: str) -> int:
        return Path(file).stat().st_size

    groups = raw_query_groups(files, 2, size_of, max_bytes=60)
    # at least two days (one per thread), then days while the run stays within 60 bytes
    assert [[f.name for f in g] for g in groups] == [
        ["day0.parquet", "day1.parquet", "day2.parquet"],  # 30; +50 would pass 60
        ["day3.parquet", "day4.parquet"],  # 50 + 10: a second day, then 60 is full
        ["day5.parquet", "day6.parquet"],  # the second day goes in whatever its size
        ["day7.parquet"],
    ]
    assert raw_query_groups([], 2, size_of) == []
    assert [len(g) for g in raw_query_groups(files, 1, size_of, max_bytes=1)] == [1] * 8
