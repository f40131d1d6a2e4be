"""SQL over a synced export tree gives the numbers the API gives, worked out by hand from the
events of ``conftest.py``; views exist for what was downloaded, and failures are one line."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from pullstats.client import QueryError, sync
from pullstats.client.query import query, view_files
from pullstats.rollups.series_query import Timespan
from tests.client.conftest import INDEX, Served, signed_in

#: the package's ``served`` installation (conftest.py) is built once: on the worker that
#: runs every module using it
pytestmark = pytest.mark.xdist_group("client")

ALL_VIEWS = {
    f"{kind}_{view}"
    for kind in ("months", "weeks")
    for view in ("raw", "summary", "repo_summary", "namespace_summary")
}


@pytest.fixture(scope="module")
def mirrored(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mirror")
    with signed_in(served) as client:
        report = sync(client, "acme", root)
    assert report.failed == [] and report.downloaded
    return root


def test_the_months_counts_are_the_apis(served: Served, mirrored: Path) -> None:
    start = f"{served.month.isoformat()}T00:00:00Z"
    columns, rows = query(
        mirrored,
        "SELECT repository, pull_by_tag, pull_by_digest, version_check, unique_ip_count "
        f"FROM months_repo_summary WHERE period_start = '{start}' ORDER BY repository",
    )
    assert columns == [
        "repository",
        "pull_by_tag",
        "pull_by_digest",
        "version_check",
        "unique_ip_count",
    ]
    # api: a pull by tag, a pull by digest and a version check, from three addresses;
    # tools/cli: one pull by digest
    assert rows == [("api", 1, 1, 1, 3), ("tools/cli", 0, 1, 0, 1)]
    _, totals = query(
        mirrored,
        "SELECT sum(pull_by_tag + pull_by_digest), sum(unique_ip_count) "
        f"FROM months_namespace_summary WHERE namespace = 'acme' AND period_start = '{start}'",
    )
    # pulls leave the version check out; unique IPs count its address: four in all
    assert totals == [(3, 4)]
    with signed_in(served) as client:
        series = client.namespace_pulls("acme", timespan=Timespan.MONTHS).pulls
    (month,) = [row for row in series if row.start == start]
    assert (month.pullCount, month.ipCount) == totals[0]


def test_weeks_raw_rows_and_tags_that_stay_text(mirrored: Path) -> None:
    _, pulls = query(mirrored, "SELECT sum(pull_by_tag + pull_by_digest) FROM weeks_repo_summary")
    assert pulls == [(3,)]
    _, actions = query(
        mirrored, "SELECT action, count(*) FROM months_raw GROUP BY action ORDER BY action"
    )
    assert actions == [("pull_by_digest", 2), ("pull_by_tag", 1), ("version_check", 1)]
    _, references = query(
        mirrored,
        "SELECT reference, pull_by_tag, version_check FROM months_summary "
        "WHERE repository = 'api' ORDER BY reference",
    )
    assert references == [("1.0", 1, 1), (INDEX, 0, 0)]  # "1.0", not the number 1.0


def test_views_exist_for_what_was_downloaded(
    served: Served, mirrored: Path, tmp_path: Path
) -> None:
    assert set(view_files(mirrored)) == ALL_VIEWS
    # two timespans: a bare name would be ambiguous, so there is none
    with pytest.raises(QueryError, match="raw"):
        query(mirrored, "SELECT count(*) FROM raw")
    with signed_in(served) as client:
        sync(client, "acme", tmp_path, timespantypes=[Timespan.MONTHS])
    assert set(view_files(tmp_path)) == {name for name in ALL_VIEWS if name.startswith("months")}
    _, counted = query(
        tmp_path,
        "SELECT (SELECT count(*) FROM raw), (SELECT sum(pull_by_digest) FROM repo_summary), "
        "(SELECT count(*) FROM summary), (SELECT count(*) FROM namespace_summary)",
    )
    assert counted == [(4, 2, 3, 1)]


def test_a_view_of_header_only_parts_is_empty(tmp_path: Path) -> None:
    """A period known only from imported summaries is exported with an empty raw view."""
    folder = tmp_path / "acme" / "2026" / "weeks" / "02" / "raw"
    folder.mkdir(parents=True)
    header = "timestamp,namespace,repository,reference,digest,tag,action_day,http_method,action"
    (folder / "part001.csv.gz").write_bytes(gzip.compress(f"{header}\r\n".encode()))
    columns, rows = query(tmp_path, "SELECT * FROM raw")
    assert columns == header.split(",") and rows == []


def test_a_tag_that_looks_like_a_number_stays_text(tmp_path: Path) -> None:
    """DuckDB's sniffer would read ``1.10`` as the number 1.1; counts must still sum."""
    folder = tmp_path / "acme" / "2026" / "months" / "10" / "summary"
    folder.mkdir(parents=True)
    lines = [
        "period_start,period_end,namespace,repository,reference,unique_ip_count,pull_by_tag,"
        "pull_by_digest,version_check",
        "2026-10-01T00:00:00Z,2026-10-31T23:59:59Z,acme,api,1.10,2,3,0,1",
        "2026-10-01T00:00:00Z,2026-10-31T23:59:59Z,acme,api,2,1,1,0,0",
    ]
    (folder / "part001.csv.gz").write_bytes(gzip.compress("\r\n".join([*lines, ""]).encode()))
    _, rows = query(
        tmp_path, "SELECT reference, pull_by_tag + version_check FROM summary ORDER BY reference"
    )
    assert rows == [("1.10", 4), ("2", 1)]


def test_importing_the_client_loads_no_engine_and_no_catalog() -> None:
    # a publisher's script reads the API over HTTP: DuckDB is the query helper's alone, and
    # pyarrow and SQLAlchemy (reached through the series' and the steps' modules) cost an
    # import of the client 0.64 s against 0.27 s
    code = (
        "import sys, pullstats.client\n"
        "print(sorted(m for m in ('duckdb', 'pyarrow', 'sqlalchemy', 'pullstats.db.models')"
        " if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_bad_sql_and_an_empty_folder_are_one_line_errors(mirrored: Path, tmp_path: Path) -> None:
    with pytest.raises(QueryError) as bad:
        query(mirrored, "SELEC 1")
    assert "\n" not in bad.value.message and "syntax error" in bad.value.message.lower()
    with pytest.raises(QueryError, match="no export files under"):
        query(tmp_path, "SELECT 1")
    for nothing in ("", "  ", ";", " ; "):  # were AttributeError: no cursor to describe
        with pytest.raises(QueryError, match="no SQL statement to run"):
            query(mirrored, nothing)
