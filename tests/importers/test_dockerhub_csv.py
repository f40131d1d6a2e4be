"""Docker Hub DVP CSV import on real files: Hub's spellings, our own exports, re-imports, bad rows.

Fixtures in tests/fixtures/dockerhub/ are written in Docker Hub's column spellings; the round
trip test makes real pullstats exports from spool data and imports them into a fresh data dir.
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from pullstats.accounts import service
from pullstats.db.models import ExportFile, PullRollup
from pullstats.exports.closing import export_closed
from pullstats.importers.dockerhub_csv import FileReport, content_sha256, import_files
from pullstats.ingest.dockerhub_columns import (
    FileKind,
    UnrecognisedFile,
    normalise_name,
    parse_header,
    period_from_file_name,
)
from pullstats.ingest.records import PullRequestRecord
from pullstats.namespace_scope import NamespaceScope
from pullstats.periods import Period
from pullstats.pipeline import end_of_day, process
from pullstats.rollups.series import namespace_series
from pullstats.rollups.series_query import SeriesQuery, Timespan
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import catalog_settings, run_cli, write_one_pull, write_spool

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dockerhub"
RAW = FIXTURES / "hub_raw_2026-W02.csv"
SUMMARY_GZ = FIXTURES / "hub_summary_2026-W02.csv.gz"
REPO_SUMMARY = FIXTURES / "hub_repo-summary_2026-W02.csv"
NAMESPACE_SUMMARY = FIXTURES / "hub_namespace-summary_2026-W02.csv"
NAMESPACE_SUMMARY_W03 = FIXTURES / "hub_namespace-summary_2026-W03.csv"
W02 = Period.week(2026, 2)
W03 = Period.week(2026, 3)
JANUARY = Period.month(2026, 1)

Row = tuple[int, int, int, int]  # pull_by_tag, pull_by_digest, version_check, unique_ip_count


def rollups(runtime: Runtime) -> dict[tuple[str, date, str, str, str, str], Row]:
    with runtime.sessions() as session:
        return {
            (r.period_kind, r.period_start, r.level, r.namespace, r.repository, r.reference): (
                r.pull_by_tag,
                r.pull_by_digest,
                r.version_check,
                r.unique_ip_count,
            )
            for r in session.scalars(select(PullRollup))
        }


def of(rows: dict[tuple[str, date, str, str, str, str], Row], period: Period) -> dict[str, Row]:
    """One period's rollups keyed ``level:repository:reference`` (namespace is always acme)."""
    return {
        f"{level}:{repo}:{ref}": counts
        for (kind, start, level, _, repo, ref), counts in rows.items()
        if (kind, start) == (period.kind.value, period.start)
    }


def imported(runtime: Runtime, *paths: Path) -> list[FileReport]:
    reports = import_files(runtime, list(paths))
    assert [r.error for r in reports if r.status == "failed"] == []
    return reports


def lake_files(data_dir: Path) -> dict[str, bytes]:
    lake = data_dir / "lake"
    return {str(p.relative_to(lake)): p.read_bytes() for p in lake.rglob("*") if p.is_file()}


# The raw fixture's good rows (lines 2-7, 11, 13), by hand: api/1.0 is pulled by tag four times
# (three rows are the same action written in three timestamp spellings: two identical rows are
# two pulls) and version-checked once; api@sha256:bbb, api:latest, tools/cli:2.0 once each.
RAW_W02 = {
    "namespace::": (6, 1, 1, 0),
    "repository:api:": (5, 1, 1, 0),
    "repository:tools/cli:": (1, 0, 0, 0),
    "reference:api:1.0": (4, 0, 1, 0),
    "reference:api:sha256:bbb": (0, 1, 0, 0),
    "reference:api:latest": (1, 0, 0, 0),
    "reference:tools/cli:2.0": (1, 0, 0, 0),
}


def test_raw_rows_become_actions_and_bad_rows_are_reported_by_line(
    runtime: Runtime, data_dir: Path
) -> None:
    result = run_cli(data_dir, "import", "dockerhub-csv", str(RAW))
    assert result.returncode == 0, result.stderr
    assert (
        f"{RAW}: raw, 8 rows imported, 4 rows skipped (bad_timestamp 1, malformed_csv 1, "
        "missing_namespace 1, unknown_action 1); days 2026-01-05..2026-01-11"
    ) in result.stdout
    assert result.stderr.splitlines() == [
        f"{RAW}: columns not imported: Owner",
        f"{RAW}:8: skipped (unknown_action): push",
        f"{RAW}:9: skipped (bad_timestamp): yesterday",
        f"{RAW}:10: skipped (missing_namespace)",
        f"{RAW}:12: skipped (malformed_csv)",
        "namespace 'acme' is not registered: its history is kept and shown once it is "
        "(pullstats namespaces add acme)",
    ]
    # issue 21, item 7: a 0 unique-IP count must not read as "no clients"
    assert "note: Docker Hub raw files carry no IP addresses" in result.stdout
    part = data_dir / f"lake/imported/day=2026-01-05/part-{content_sha256(RAW)}.parquet"
    stored = pq.read_table(part).to_pylist()
    assert len(stored) == 3
    assert {(r["ip_hash"], r["ruleset_version"], r["action"]) for r in stored} == {
        (None, 0, "pull_by_tag")
    }
    assert stored[0]["timestamp"] == datetime(2026, 1, 5, 0, 0, 9)
    process(runtime)
    rows = rollups(runtime)
    assert of(rows, W02) == RAW_W02
    assert of(rows, JANUARY) == RAW_W02  # raw rows feed every period they fall in
    cli = [r for r in pq.read_table(part.parent.parent / "day=2026-01-07").to_pylist()]
    assert [(r["repository"], r["action"], r["user_agent_tool"]) for r in cli] == [
        ("tools/cli", "pull_by_tag", "podman")  # "acme/tools/cli" and "PULL-BY-TAG" normalised
    ]


def test_unique_ips_come_only_from_imported_summaries(runtime: Runtime) -> None:
    reports = imported(runtime, RAW, SUMMARY_GZ, REPO_SUMMARY, NAMESPACE_SUMMARY)
    assert [(r.kind, r.rows) for r in reports] == [
        (FileKind.RAW, 8),
        (FileKind.SUMMARY, 4),
        (FileKind.REPO_SUMMARY, 2),
        (FileKind.NAMESPACE_SUMMARY, 1),
    ]
    repo_summary = reports[2]
    assert dict(repo_summary.skipped) == {"bad_period": 1, "bad_count": 1}
    assert [(r.line, r.reason) for r in repo_summary.listed] == [
        (4, "bad_period"),
        (5, "bad_count"),
    ]
    process(runtime)
    rows = rollups(runtime)
    # the raw rows' counts win (the summaries count the same pulls); the summaries add IPs
    assert of(rows, W02) == {
        "namespace::": (6, 1, 1, 5),
        "repository:api:": (5, 1, 1, 4),
        "repository:tools/cli:": (1, 0, 0, 1),
        "reference:api:1.0": (4, 0, 1, 3),
        "reference:api:sha256:bbb": (0, 1, 0, 1),
        "reference:api:latest": (1, 0, 0, 1),
        "reference:tools/cli:2.0": (1, 0, 0, 1),
    }
    assert of(rows, JANUARY) == RAW_W02  # no monthly summary imported: no unique IPs


def test_a_summary_alone_supplies_counts_and_ips_of_its_own_period(runtime: Runtime) -> None:
    imported(runtime, NAMESPACE_SUMMARY_W03)
    process(runtime)
    rows = rollups(runtime)
    assert of(rows, W03) == {"namespace::": (20, 3, 2, 7)}
    assert of(rows, JANUARY) == {}  # a weekly summary says nothing about its month
    with runtime.sessions() as session:
        series = namespace_series(
            session, NamespaceScope("acme"), SeriesQuery(timespan=Timespan.WEEKS), date(2026, 2, 15)
        )
    by_start = {row["start"]: (row["pullCount"], row["ipCount"]) for row in series}
    assert by_start["2026-01-12T00:00:00Z"] == (23, 7)
    assert by_start["2026-01-05T00:00:00Z"] == (0, 0)


def test_a_figure_not_known_stays_not_known_beside_the_registrys_own_addresses(
    runtime: Runtime,
) -> None:
    # the week a publisher moved: a repo-summary from Docker Hub (api: 4 IPs, tools/cli: 1) and
    # one pull of acme/api:1.0 here. The namespace's unique IPs are not known (a repo-summary
    # has no namespace row, and repositories' IPs do not add up); before, the row showed the
    # registry's 1 alone, fewer than its own repository api's 5
    imported(runtime, REPO_SUMMARY)
    write_one_pull(runtime, datetime(2026, 1, 7, 12, tzinfo=UTC))
    process(runtime)
    assert of(rollups(runtime), W02) == {
        "namespace::": (7, 1, 1, 0),  # 5 + 1 + 1 by tag, 1 by digest, 1 check; IPs not known
        "repository:api:": (6, 1, 1, 5),  # the file's 4 IPs + this registry's one
        "repository:tools/cli:": (1, 0, 0, 1),
        "reference:api:1.0": (1, 0, 0, 1),  # this registry's pull alone
    }


def test_re_importing_a_file_changes_nothing(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    imported(runtime, RAW, SUMMARY_GZ)
    process(runtime)
    before, files_before = rollups(runtime), lake_files(data_dir)
    # the same content uncompressed under another name is the same file
    plain = tmp_path / "copy.csv"
    plain.write_bytes(gzip.decompress(SUMMARY_GZ.read_bytes()))
    result = run_cli(data_dir, "import", "dockerhub-csv", str(RAW), str(plain))
    assert result.returncode == 0, result.stderr
    sha = content_sha256(RAW)[:12]
    assert f"{RAW}: raw, already imported (sha256 {sha})" in result.stdout
    assert f"{plain}: summary, already imported" in result.stdout
    assert "imported 0 rows from 0 files" in result.stdout
    process(runtime)
    assert rollups(runtime) == before
    assert {k: v for k, v in lake_files(data_dir).items() if "/actions/" not in k} == {
        k: v for k, v in files_before.items() if "/actions/" not in k
    }


def test_an_unrecognised_file_fails_alone(runtime: Runtime, data_dir: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.csv"
    bogus.write_text("when,what\nmonday,lunch\n")
    missing = tmp_path / "missing.csv"
    result = run_cli(data_dir, "import", "dockerhub-csv", str(bogus), str(missing), str(RAW))
    assert result.returncode == 1
    # a header of no known kind is told so, not to give --namespace, which would not help
    assert (
        f"{bogus}: error: header is neither a raw file (Timestamp, Action, …) nor a summary "
        "(Unique IP count, Pull by tag, …): when, what"
    ) in result.stderr
    assert f"{missing}: error: no such file" in result.stderr
    assert "error: 2 of 3 files could not be imported" in result.stderr
    assert f"{RAW}: raw, 8 rows imported" in result.stdout


def test_a_summary_without_period_columns_needs_a_label_in_its_name(
    runtime: Runtime, tmp_path: Path
) -> None:
    unnamed = tmp_path / "summary.csv"
    unnamed.write_bytes(gzip.decompress(SUMMARY_GZ.read_bytes()))
    [report] = import_files(runtime, [unnamed])
    assert report.status == "failed"
    assert "Period start/Period end columns, a period label" in report.error


def pull(
    event_id: str, instant: datetime, name: str, tag: str, ip: str, method: str = "GET", **kw: str
) -> PullRequestRecord:
    return PullRequestRecord(
        event_id,
        micros(instant),
        method,
        name,
        tag,
        kw.get("digest", "sha256:ab"),
        ip,
        kw.get("ua", "docker/27.3.1"),
        "notification",
        now_micros(),
    )


#: Every export file but the co-usage reports: pairs of repositories, which no import reads
IMPORTABLE = select(ExportFile).where(ExportFile.view != "co-usage-report")


@pytest.mark.slow
def test_our_own_exports_import_back_to_the_same_rollups(runtime: Runtime, tmp_path: Path) -> None:
    monday = datetime(2026, 1, 5, tzinfo=UTC)
    write_spool(
        runtime,
        pull("a", monday + timedelta(hours=1), "acme/api", "1.0", "192.0.2.1"),
        pull("b", monday + timedelta(hours=2), "acme/api", "1.0", "192.0.2.2", ua="=cmd|x"),
        pull("c", monday + timedelta(hours=3), "acme/api", "1.0", "192.0.2.2", method="HEAD"),
        pull("d", monday + timedelta(days=1), "acme/tools/cli", "v1", "192.0.2.1"),
        pull("e", monday + timedelta(days=2), "acme/api", "", "192.0.2.3", digest="sha256:cd"),
        pull("f", monday + timedelta(days=9), "acme/api", "2.0", "192.0.2.4"),
    )
    process(runtime)
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
    export_closed(runtime, now=end_of_day(date(2026, 2, 1)))
    with runtime.sessions() as session:
        exports = [runtime.paths.exports / f.path for f in session.scalars(IMPORTABLE)]
    # weeks 2 and 3 and January, four views and Docker's Summary and Trends reports each (the
    # co-usage report is no history); the weekly and monthly raw files overlap, and the reports
    # say again what the raw rows say
    assert len(exports) == 18
    original = rollups(runtime)

    fresh = Runtime.open(catalog_settings(tmp_path / "fresh"))
    try:
        reports = imported(fresh, *exports)
        assert sum(r.rows for r in reports if r.kind is FileKind.RAW) == 6 + 5 + 1
        assert all(not r.skipped for r in reports)
        process(fresh)
        assert rollups(fresh) == original
        stored = pq.read_table(fresh.paths.actions_day(date(2026, 1, 6))).to_pylist()
        assert [(r["tag"], r["reference"]) for r in stored] == [("v1", "v1")]
        agents = pq.read_table(fresh.paths.actions_day(date(2026, 1, 5)))["user_agent"]
        assert "=cmd|x" in agents.to_pylist()
    finally:
        fresh.close()


SUMMARY_LEVELS = {
    "summary": "reference",
    "repo-summary": "repository",
    "namespace-summary": "namespace",
}


def exported_summaries(runtime: Runtime) -> dict[tuple[str, date, str, str, str, str], Row]:
    """Every line of the summary exports, keyed like :func:`rollups`."""
    found: dict[tuple[str, date, str, str, str, str], Row] = {}
    with runtime.sessions() as session:
        files = list(session.scalars(select(ExportFile)))
    for file in files:
        if file.view not in SUMMARY_LEVELS:
            continue
        text = gzip.decompress((runtime.paths.exports / file.path).read_bytes()).decode()
        for row in csv.DictReader(io.StringIO(text)):
            key = (
                file.period_kind,
                file.period_start,
                SUMMARY_LEVELS[file.view],
                row["namespace"],
                row.get("repository", ""),
                row.get("reference", ""),
            )
            found[key] = tuple(  # type: ignore[assignment]
                int(row[c])
                for c in ("pull_by_tag", "pull_by_digest", "version_check", "unique_ip_count")
            )
    return found


@pytest.mark.slow
def test_exports_of_imported_history_show_its_counts_and_import_back(
    runtime: Runtime, tmp_path: Path
) -> None:
    imported(runtime, RAW, SUMMARY_GZ, REPO_SUMMARY, NAMESPACE_SUMMARY, NAMESPACE_SUMMARY_W03)
    process(runtime)
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
    export_closed(runtime, now=end_of_day(date(2026, 2, 1)))
    original = rollups(runtime)
    # the summary exports say what the API says: Hub's unique IPs, and the week known only
    # from a Hub summary (W03) is exported too, its raw file empty
    assert exported_summaries(runtime) == original
    assert of(exported_summaries(runtime), W02)["namespace::"] == (6, 1, 1, 5)
    assert of(exported_summaries(runtime), W03) == {"namespace::": (20, 3, 2, 7)}
    with runtime.sessions() as session:
        raw_rows = {
            (f.period_kind, f.period_start): f.rows
            for f in session.scalars(select(ExportFile).where(ExportFile.view == "raw"))
        }
        exports = [runtime.paths.exports / f.path for f in session.scalars(IMPORTABLE)]
    assert raw_rows == {("week", W02.start): 8, ("week", W03.start): 0, ("month", JANUARY.start): 8}

    fresh = Runtime.open(catalog_settings(tmp_path / "fresh"))
    try:
        imported(fresh, *exports)
        process(fresh)
        assert rollups(fresh) == original
    finally:
        fresh.close()


def test_a_namespace_registered_after_import_sees_its_history(runtime: Runtime) -> None:
    imported(runtime, RAW)
    process(runtime)
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
    export_closed(runtime, now=end_of_day(date(2026, 2, 1)))
    with runtime.sessions() as session:
        files = {
            (f.period_kind, f.view): f
            for f in session.scalars(select(ExportFile).where(ExportFile.namespace == "acme"))
        }
        series = namespace_series(
            session, NamespaceScope("acme"), SeriesQuery(timespan=Timespan.WEEKS), date(2026, 2, 15)
        )
    assert files[("week", "raw")].rows == 8
    assert files[("month", "raw")].rows == 8
    summary = gzip.decompress(
        (runtime.paths.exports / files[("week", "namespace-summary")].path).read_bytes()
    ).decode()
    assert summary.splitlines()[1].endswith(",acme,0,6,1,1")
    assert {row["start"]: row["pullCount"] for row in series}["2026-01-05T00:00:00Z"] == 7


def test_headers_are_normalised_and_tell_the_kind() -> None:
    assert normalise_name("\ufeffUser agent tool") == "user_agent_tool"
    assert normalise_name("HTTP-method") == "http_method"
    assert normalise_name(" Unique IP count ") == "unique_ip_count"
    assert normalise_name("Pulls by tag") == "pull_by_tag"
    raw = parse_header(["Timestamp", "Namespace", "Action", "Action day", "Owner", "Extra"])
    assert raw.kind is FileKind.RAW
    assert raw.columns == {"timestamp": "Timestamp", "namespace": "Namespace", "action": "Action"}
    assert raw.ignored == ("Owner", "Extra")  # Action day is recomputed, not ignored
    assert parse_header(["namespace", "repository", "reference", "pull_by_tag"]).kind is (
        FileKind.SUMMARY
    )
    assert parse_header(["Namespace", "Repo", "Unique IPs"]).kind is FileKind.REPO_SUMMARY
    assert parse_header(["Namespace", "Version checks"]).kind is FileKind.NAMESPACE_SUMMARY
    with pytest.raises(UnrecognisedFile, match="both mean 'namespace'"):
        parse_header(["Namespace", "namespace", "Action", "Timestamp"])
    with pytest.raises(UnrecognisedFile, match="neither a raw file"):
        parse_header(["Namespace", "Repository"])
    # without a namespace too, and whether or not --namespace is given
    for given in (False, True):
        with pytest.raises(UnrecognisedFile, match="neither a raw file"):
            parse_header(["Date", "Repository", "Pulls"], namespace_given=given)
    # a known kind without one is asked for it
    with pytest.raises(UnrecognisedFile, match=r"no Namespace column .*, no --namespace"):
        parse_header(["Timestamp", "Action", "Repository"])
    assert parse_header(["Timestamp", "Action"], namespace_given=True).kind is FileKind.RAW


def test_period_labels_in_file_names() -> None:
    assert period_from_file_name("acme_summary_2026-W02_part001.csv.gz") == W02
    assert period_from_file_name("acme_raw_2026-01_part001.csv.gz") == JANUARY
    assert period_from_file_name("pulls-2026-01-05.csv") is None
    assert period_from_file_name("acme_2026-W54.csv") is None


def test_content_hash_ignores_gzip(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    with gzip.open(SUMMARY_GZ, "rb") as source, open(plain, "wb") as target:
        shutil.copyfileobj(source, target)
    assert content_sha256(plain) == content_sha256(SUMMARY_GZ)
    assert content_sha256(plain) != content_sha256(RAW)


def test_a_period_known_only_from_a_repository_summary_is_exported(runtime: Runtime) -> None:
    # docs/exports.md: "a period known only from imported summaries is exported too, with an
    # empty raw view". A repo-summary has no namespace row: the namespace's pulls are its
    # repositories' (pulls add up, issue 21: before, /namespaces/acme/pulls showed none), its
    # unique IPs are not known (those of two repositories do not add up).
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
    imported(runtime, REPO_SUMMARY)
    process(runtime)
    assert of(rollups(runtime), W02) == {
        "repository:api:": (5, 1, 1, 4),  # the file's rows, as they are
        "repository:tools/cli:": (1, 0, 0, 1),
        "namespace::": (6, 1, 1, 0),  # 5 + 1 by tag, 1 + 0 by digest, 1 + 0 checks
    }
    export_closed(runtime, now=end_of_day(date(2026, 1, 31)))
    with runtime.sessions() as session:
        files = {
            f.view: f
            for f in session.scalars(select(ExportFile).where(ExportFile.period_start == W02.start))
        }
    assert sorted(files) == [
        "co-usage-report",
        "namespace-summary",
        "raw",
        "repo-summary",
        "summary",
        "summary-report",
        "trends-report",
    ]
    text = gzip.decompress((runtime.paths.exports / files["repo-summary"].path).read_bytes())
    lines = text.decode().splitlines()
    assert [line.split(",")[3:] for line in lines[1:]] == [
        ["api", "4", "5", "1", "1"],
        ["tools/cli", "1", "1", "0", "0"],
    ]
    namespace = gzip.decompress(
        (runtime.paths.exports / files["namespace-summary"].path).read_bytes()
    )
    assert namespace.decode().splitlines()[1].split(",")[2:] == ["acme", "0", "6", "1", "1"]
    # Docker's Summary report of the same rollups: downloads are 5 by tag + 1 by digest
    report = gzip.decompress((runtime.paths.exports / files["summary-report"].path).read_bytes())
    assert [line.split(",")[3:] for line in report.decode().splitlines()[1:]] == [
        ["repository", "acme/api", "6", "1", "7"],
        ["repository", "acme/tools/cli", "1", "0", "1"],
    ]
