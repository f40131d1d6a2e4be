"""The report datasets through the client, against the real pullstats server of
``conftest.py``: the ``summary`` dataset's routes answered as the raw API answers them, its
report downloaded and read line by line, sync and SQL with it, and the ``pulls`` defaults left
as they were.

The report's lines worked by hand from the seeded month: acme/api is pulled once by tag
``1.0``, once by digest and version-checked once by a HEAD of ``1.0``; acme/tools/cli is pulled
once by digest. Docker's Summary report has a repository row, then its tags, then its digests;
``DATA_DOWNLOADS`` counts pulls by tag and by digest, ``EVENT_COUNT`` adds the version checks.
"""

from __future__ import annotations

import gzip
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from pullstats.cli.hub_files import DEFAULT_VIEWS, ViewChoice
from pullstats.client import ExportFile, download, local_path, sync
from pullstats.client.datasets import file_dataset
from pullstats.client.query import query, view_files
from pullstats.exports.reports import Dataset, ReportFile, ReportView
from pullstats.exports.views import Dataview
from pullstats.rollups.series_query import Timespan
from tests.client.conftest import INDEX, Served, signed_in
from tests.client.test_against_server import _dump, _raw

#: the package's ``served`` installation (conftest.py) is built once: on the worker that
#: runs every module using it
pytestmark = pytest.mark.xdist_group("client")

HEADER = (
    "DATE_GRANULARITY,DATE_REFERENCE,PUBLISHER_NAME,LEVEL,REFERENCE,"
    "DATA_DOWNLOADS,VERSION_CHECKS,EVENT_COUNT"
)


def report_lines(granularity: str, start: date) -> list[str]:
    """The Summary report of the seeded data, for a month or for the week holding it."""
    first = f"{granularity},{start.isoformat()},acme"
    return [
        HEADER,
        f"{first},repository,acme/api,2,1,3",
        f"{first},tag,acme/api:1.0,1,1,2",
        f"{first},digest,acme/api@{INDEX},1,0,1",
        f"{first},repository,acme/tools/cli,1,0,1",
        f"{first},digest,acme/tools/cli@{INDEX},1,0,1",
    ]


def seeded_week(served: Served) -> date:
    """The Monday of the ISO week of the seeded events (the month's 10th)."""
    day = served.month + timedelta(days=9)
    return day - timedelta(days=day.weekday())


def lines(path: Path) -> list[str]:
    text = gzip.decompress(path.read_bytes()).decode()
    assert text.endswith("\r\n")
    return text.removesuffix("\r\n").split("\r\n")


def test_the_summary_dataset_answers_what_the_raw_api_answers(served: Served) -> None:
    month, summary = served.month, Dataset.SUMMARY
    with signed_in(served) as client:
        token = client.token
        monthly = client.timespans("acme", month.year, Timespan.MONTHS, dataset=summary)
        cases: list[tuple[Any, str]] = [
            (client.years("acme", dataset=summary), "/years"),
            (monthly, f"/years/{month.year}/months"),
            (
                client.timespan_metadata(
                    "acme", month.year, Timespan.MONTHS, month.month, dataset=summary
                ),
                f"/years/{month.year}/months/{month.month}",
            ),
        ]
        links = client.dataview(
            "acme", month.year, Timespan.MONTHS, month.month, ReportView.REPORT, dataset=summary
        )
        every = client.namespace("acme", all_datasets=True)
        docker = client.namespace("acme")
    for answer, tail in cases:
        raw = _raw(served.server, token, f"/namespaces/acme/summary/exports{tail}")
        assert raw.status_code == 200, (tail, raw.text)
        assert _dump(answer) == raw.json(), tail
    assert {"month": month.month} in _dump(monthly)["months"]
    (link,) = links.data
    assert link.sha256 is not None and link.size > 0
    assert [d.name for d in every.datasets] == ["pulls", "summary", "trends", "co-usage"]
    assert [d.name for d in docker.datasets] == ["pulls"]  # Docker's contract: pulls only


def test_a_downloaded_summary_report_holds_the_hand_worked_lines(
    served: Served, tmp_path: Path
) -> None:
    month = served.month
    with signed_in(served) as client:
        (file,) = client.view_files(
            "acme",
            month.year,
            Timespan.MONTHS,
            month.month,
            ReportView.REPORT,
            dataset=Dataset.SUMMARY,
        )
        path = local_path(tmp_path, file)
        assert download(client, file, path) == file.sha256
    assert (file.dataset, file.dataview, file.kind) == (
        Dataset.SUMMARY,
        ReportView.REPORT,
        ReportFile.SUMMARY_REPORT,
    )
    where = f"acme/{month.year}/months/{month.month:02d}/summary-report"
    assert file.label == f"{where}/part001"
    assert path == tmp_path / where / "part001.csv.gz"
    assert lines(path) == report_lines("monthly", month)


def test_the_pulls_dataset_stays_the_default(served: Served) -> None:
    with signed_in(served) as client:
        files = list(client.export_files("acme", timespantypes=[Timespan.MONTHS]))
    assert {f.dataset for f in files} == {Dataset.PULLS}
    assert {f.dataview for f in files} == {f.kind for f in files} == set(Dataview)
    # an ExportFile made as before the datasets is a pulls file, in the same place
    old = ExportFile("acme", 2026, Timespan.WEEKS, 5, Dataview.REPO_SUMMARY, 2, "http://h/f", 9)
    assert old.dataset is Dataset.PULLS
    assert local_path(Path("/m"), old) == Path("/m/acme/2026/weeks/05/repo-summary/part002.csv.gz")


def test_sync_adds_the_reports_only_when_asked_and_sql_reads_them(
    served: Served, tmp_path: Path
) -> None:
    with signed_in(served) as client:
        plain = sync(client, "acme", tmp_path)
        assert plain.failed == [] and not list(tmp_path.rglob("summary-report"))
        pulls_files = len(plain.downloaded)
        both = sync(client, "acme", tmp_path, datasets=[Dataset.PULLS, Dataset.SUMMARY])
        again = sync(client, "acme", tmp_path, datasets=[Dataset.SUMMARY])
    # the reports came on top: one per exported period, the pulls files untouched
    assert {f.kind for f in both.downloaded} == {ReportFile.SUMMARY_REPORT}
    assert len(both.skipped) == pulls_files and len(both.downloaded) == pulls_files // 4
    assert both.removed == [] and again.downloaded == [] and again.removed == []
    week = seeded_week(served)
    week_folder = tmp_path / "acme" / str(week.isocalendar().year) / "weeks"
    path = week_folder / f"{week.isocalendar().week:02d}" / "summary-report" / "part001.csv.gz"
    assert lines(path) == report_lines("weekly", week)
    names = set(view_files(tmp_path))
    assert {"months_summary_report", "weeks_summary_report"} <= names
    assert {"months_raw", "weeks_namespace_summary"} <= names
    _, rows = query(
        tmp_path,
        "SELECT LEVEL, sum(DATA_DOWNLOADS), sum(VERSION_CHECKS), sum(EVENT_COUNT) "
        f"FROM months_summary_report WHERE DATE_REFERENCE = '{served.month.isoformat()}' "
        "GROUP BY LEVEL ORDER BY LEVEL",
    )
    # counts are numbers; each level adds up to the month: 3 pulls and 1 version check in all
    assert rows == [("digest", 2, 0, 2), ("repository", 3, 1, 4), ("tag", 1, 1, 2)]


def test_the_trends_report_syncs_and_reads_as_numbers(served: Served, tmp_path: Path) -> None:
    """The month's Trends report, by hand: every client is docker at a documentation address
    (country ZZ, no cloud); acme/api's tag 1.0 has the pull from 203.0.113.7 and the check from
    192.0.2.44 (two anonymous users), its pull by digest (tag \\N) one, tools/cli's one."""
    with signed_in(served) as client:
        synced = sync(client, "acme", tmp_path, datasets=[Dataset.TRENDS])
    assert synced.failed == [] and {f.kind for f in synced.downloaded} == {ReportFile.TRENDS_REPORT}
    _, rows = query(
        tmp_path,
        "SELECT IMAGE_REPOSITORY, TAG, IP_COUNTRY, CLOUD_SERVICE_PROVIDER, USER_AGENT, "
        "DATA_DOWNLOADS, VERSION_CHECKS, PULLS, UNIQUE_AUTHENTICATED_USERS, "
        "UNIQUE_UNAUTHENTICATED_USERS FROM months_trends_report "
        f"WHERE DATE_REFERENCE = '{served.month.isoformat()}' ORDER BY 1, 2",
    )
    assert rows == [
        ("acme/api", "1.0", "ZZ", "no csp", "docker", 1, 1, 2, 0, 2),
        ("acme/api", "\\N", "ZZ", "no csp", "docker", 1, 0, 1, 0, 1),
        ("acme/tools/cli", "\\N", "ZZ", "no csp", "docker", 1, 0, 1, 0, 1),
    ]


def test_a_view_of_another_dataset_is_refused(served: Served) -> None:
    month = served.month
    with signed_in(served) as client:
        with pytest.raises(ValueError, match="summary dataset has no view"):
            client.dataview(
                "acme",
                month.year,
                Timespan.MONTHS,
                month.month,
                Dataview.RAW,
                dataset=Dataset.SUMMARY,
            )
        with pytest.raises(ValueError, match="pulls dataset has no view 'report'"):
            client.dataview("acme", month.year, Timespan.MONTHS, month.month, ReportView.REPORT)
        with pytest.raises(ValueError, match="summary dataset has no view 'summary'"):
            next(client.export_files("acme", views=[Dataview.SUMMARY], dataset=Dataset.SUMMARY))


def test_the_view_choices_are_the_kinds_of_file() -> None:
    assert [c.value for c in ViewChoice] == [k.value for k in (*Dataview, *ReportFile)]
    assert [c.value for c in DEFAULT_VIEWS] == [v.value for v in Dataview]
    assert file_dataset(ReportFile.SUMMARY_REPORT) == (Dataset.SUMMARY, ReportView.REPORT)
    assert file_dataset(Dataview.RAW) == (Dataset.PULLS, Dataview.RAW)
