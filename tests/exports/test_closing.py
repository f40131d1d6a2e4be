"""Stage 4 on real files: which periods close, byte-identical reruns, late data, extra repos."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pullstats.accounts import service
from pullstats.db.models import ExportFile, ExtraRepo
from pullstats.exports.closing import export_closed
from pullstats.ingest.records import PullRequestRecord
from pullstats.periods import Period
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import write_spool

WEEK = Period.week(2026, 2)  # Monday 2026-01-05 .. Sunday 2026-01-11


def at(day: date, seconds: float) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(seconds=seconds)


def add_requests(runtime: Runtime, *records: PullRequestRecord) -> None:
    write_spool(runtime, *records)
    process(runtime)


def pull(
    event_id: str, instant: datetime, name: str, tag: str, ip: str, ua: str = "docker/27.3.1"
) -> PullRequestRecord:
    return PullRequestRecord(
        event_id,
        micros(instant),
        "GET",
        name,
        tag,
        "sha256:ab",
        ip,
        ua,
        "notification",
        now_micros(),
    )


def files(runtime: Runtime, namespace: str, period: Period) -> dict[str, ExportFile]:
    with runtime.sessions() as session:
        rows = session.scalars(
            select(ExportFile).where(
                ExportFile.namespace == namespace,
                ExportFile.period_start == period.start,
                ExportFile.period_kind == period.kind.value,
            )
        )
        return {row.view: row for row in rows}


def read_csv(runtime: Runtime, entry: ExportFile) -> list[list[str]]:
    data = (runtime.paths.exports / entry.path).read_bytes()
    return list(csv.reader(io.StringIO(gzip.decompress(data).decode())))


def register(runtime: Runtime, *namespaces: str) -> None:
    with runtime.sessions.begin() as session:
        for namespace in namespaces:
            service.create_namespace(session, namespace)


def test_only_closed_periods_with_data_are_exported(runtime: Runtime) -> None:
    register(runtime, "acme", "quiet")
    add_requests(runtime, pull("a", at(WEEK.start, 3600), "acme/api", "1.0", "192.0.2.1"))
    sunday = WEEK.end
    # on Sunday the week is still open; Monday before the grace it still is
    assert export_closed(runtime, now=end_of_day(sunday - timedelta(days=1))).exported == []
    monday_1am = end_of_day(sunday) + timedelta(hours=1)
    assert export_closed(runtime, now=monday_1am).exported == []
    done = export_closed(runtime, now=end_of_day(sunday) + timedelta(hours=2))
    assert [(t.namespace, t.period) for t in done.exported] == [("acme", WEEK)]
    assert done.files == 7
    # the quiet namespace has no data: nothing is listed for it
    assert files(runtime, "quiet", WEEK) == {}
    assert set(files(runtime, "acme", WEEK)) == {
        "raw",
        "summary",
        "repo-summary",
        "namespace-summary",
        "summary-report",
        "trends-report",
        "co-usage-report",
    }


@pytest.mark.slow
def test_reruns_are_byte_identical_and_rebuild_replaces_atomically(runtime: Runtime) -> None:
    register(runtime, "acme")
    add_requests(
        runtime,
        pull("a", at(WEEK.start, 10), "acme/api", "1.0", "192.0.2.1"),
        pull("b", at(WEEK.start, 20), "acme/api", "1.0", "192.0.2.2", ua='=HYPERLINK("x")'),
        pull("c", at(WEEK.start + timedelta(days=2), 5), "acme/tools/cli", "v1", "192.0.2.1"),
    )
    now = end_of_day(WEEK.end + timedelta(days=1))
    export_closed(runtime, now=now)
    first = files(runtime, "acme", WEEK)
    first_bytes = {v: (runtime.paths.exports / e.path).read_bytes() for v, e in first.items()}
    assert export_closed(runtime, now=now).exported == []  # nothing new: nothing written
    export_closed(runtime, now=now, rebuild=True)
    second = files(runtime, "acme", WEEK)
    assert {v: e.sha256 for v, e in second.items()} == {v: e.sha256 for v, e in first.items()}
    assert {v: (runtime.paths.exports / e.path).read_bytes() for v, e in second.items()} == (
        first_bytes
    )
    # the old set's folder is gone, the new one holds exactly the four files
    folders = {(runtime.paths.exports / e.path).parent for e in second.values()}
    assert len(folders) == 1
    assert len(list((runtime.paths.exports / "acme" / WEEK.label).iterdir())) == 1
    for view, entry in second.items():
        assert entry.size == len(first_bytes[view])
        assert entry.file_name == f"acme_{view}_2026-W02_part001.csv.gz"
    raw = read_csv(runtime, second["raw"])
    user_agents = [row[15] for row in raw[1:]]
    assert '\'=HYPERLINK("x")' in user_agents
    # a tag cannot start with a formula character (every ingest path holds the tag grammar)
    assert [row[5] for row in raw[1:]] == ["1.0", "1.0", "v1"]
    assert second["raw"].rows == 3


def test_late_data_makes_a_period_dirty_and_it_is_re_exported(runtime: Runtime) -> None:
    register(runtime, "acme")
    add_requests(runtime, pull("a", at(WEEK.start, 10), "acme/api", "1.0", "192.0.2.1"))
    now = end_of_day(WEEK.end + timedelta(days=3))
    export_closed(runtime, now=now)
    before = read_csv(runtime, files(runtime, "acme", WEEK)["namespace-summary"])
    assert before[1][3:] == ["1", "1", "0", "0"]
    add_requests(runtime, pull("late", at(WEEK.start, 99), "acme/api", "1.0", "192.0.2.9"))
    again = export_closed(runtime, now=now)
    assert [t.period for t in again.exported if t.period.kind == WEEK.kind] == [WEEK]
    after = read_csv(runtime, files(runtime, "acme", WEEK)["namespace-summary"])
    assert after[1][3:] == ["2", "2", "0", "0"]


def test_extra_repos_are_exported_with_their_real_namespace(runtime: Runtime) -> None:
    register(runtime, "acme", "partner")
    with runtime.sessions.begin() as session:
        acme = service.get_namespace(session, "acme")
        session.add(ExtraRepo(namespace_id=acme.id, repository="partner/shared"))
    add_requests(
        runtime,
        pull("a", at(WEEK.start, 10), "acme/api", "1.0", "192.0.2.1"),
        pull("b", at(WEEK.start, 20), "partner/shared", "2.0", "192.0.2.2"),
        pull("c", at(WEEK.start, 30), "partner/private", "2.0", "192.0.2.3"),
    )
    export_closed(runtime, now=end_of_day(WEEK.end + timedelta(days=1)))
    summary = read_csv(runtime, files(runtime, "acme", WEEK)["namespace-summary"])
    assert [row[2:] for row in summary[1:]] == [
        ["acme", "1", "1", "0", "0"],
        ["partner", "1", "1", "0", "0"],
    ]
    repos = read_csv(runtime, files(runtime, "acme", WEEK)["repo-summary"])
    assert [(row[2], row[3]) for row in repos[1:]] == [("acme", "api"), ("partner", "shared")]
    partner = read_csv(runtime, files(runtime, "partner", WEEK)["repo-summary"])
    assert [(row[2], row[3]) for row in partner[1:]] == [
        ("partner", "private"),
        ("partner", "shared"),
    ]


@pytest.mark.slow
def test_export_files_live_under_the_data_dir(runtime: Runtime, data_dir: Path) -> None:
    register(runtime, "acme")
    add_requests(runtime, pull("a", at(WEEK.start, 10), "acme/api", "1.0", "192.0.2.1"))
    export_closed(runtime, now=end_of_day(WEEK.end + timedelta(days=1)))
    for entry in files(runtime, "acme", WEEK).values():
        path = (runtime.paths.exports / entry.path).resolve()
        assert path.is_relative_to(data_dir.resolve())
        header = path.read_bytes()[:10]
        assert header[:4] == b"\x1f\x8b\x08\x00" and header[4:8] == b"\x00\x00\x00\x00"  # mtime 0


def test_an_export_from_before_a_report_existed_is_exported_again(runtime: Runtime) -> None:
    """An export whose catalog lacks a kind of file (written by a version without Docker's
    Summary report) is redone on the next run, and only then is it up to date."""
    register(runtime, "acme")
    add_requests(runtime, pull("a", at(WEEK.start, 60), "acme/api", "1.0", "192.0.2.1"))
    sunday_night = end_of_day(WEEK.end) + timedelta(hours=2)
    first = export_closed(runtime, now=sunday_night)
    assert [t.period for t in first.exported] == [WEEK]
    with runtime.sessions.begin() as session:
        for row in session.scalars(select(ExportFile).where(ExportFile.view == "summary-report")):
            session.delete(row)
    assert "summary-report" not in files(runtime, "acme", WEEK)
    again = export_closed(runtime, now=sunday_night)
    assert [t.period for t in again.exported] == [WEEK] and again.up_to_date == 0
    report = read_csv(runtime, files(runtime, "acme", WEEK)["summary-report"])
    assert report[1:] == [
        ["weekly", "2026-01-05", "acme", "repository", "acme/api", "1", "0", "1"],
        ["weekly", "2026-01-05", "acme", "tag", "acme/api:1.0", "1", "0", "1"],
    ]
    third = export_closed(runtime, now=sunday_night)
    assert third.exported == [] and third.up_to_date == 1
