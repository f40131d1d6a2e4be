"""Known answers: a hand-built event set whose counts are worked out by hand in the comments.

Ruled by docs/data-definitions.md and docs/api.md. The series are asked for with an explicit
"today", so the dates can sit around a New Year; the exported summaries of the same periods
must agree with them.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from pullstats.accounts import service
from pullstats.db.models import ExportFile
from pullstats.enrich import enrich
from pullstats.exports.closing import export_closed
from pullstats.ingest.records import PullRequestRecord
from pullstats.namespace_scope import NamespaceScope
from pullstats.periods import Period
from pullstats.pipeline import end_of_day, process
from pullstats.rollups.series import namespace_series, repository_series
from pullstats.rollups.series_query import Breakdown, Group, RelativePeriod, SeriesQuery, Timespan
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import catalog_settings, fresh_runtime, write_spool

#: the read-only tests share one loaded installation: under pytest-xdist all run on one worker
pytestmark = pytest.mark.xdist_group("known-answers")

A, B, C = "192.0.2.1", "198.51.100.2", "2001:db8::3"


def request(
    n: int,
    when: datetime,
    method: str,
    name: str,
    ip: str,
    *,
    tag: str = "",
    digest: str = "sha256:0d",
) -> PullRequestRecord:
    return PullRequestRecord(
        f"ka-{n}",
        micros(when),
        method,
        name,
        tag,
        digest,
        ip,
        "docker/27.3.1",
        "notification",
        now_micros(),
    )


def t(day: str, seconds: float = 36_000) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(seconds=seconds)


#   ISO 2026-W01 runs Mon 2025-12-29 .. Sun 2026-01-04, across the month boundary.
EVENTS = [
    request(1, t("2025-12-29"), "GET", "acme/api", A, tag="1.0"),  # Dec, W01: pull (A)
    request(2, t("2025-12-31"), "GET", "acme/api", B, tag="1.0"),  # Dec, W01: pull (B)
    request(3, t("2026-01-01"), "GET", "acme/web", A),  # Jan, W01: pull by digest (A)
    request(4, t("2026-01-01"), "HEAD", "acme/api", C, tag="1.0"),  # Jan, W01: version check
    request(5, t("2026-01-05"), "GET", "acme/api", A, tag="1.0"),  # Jan, W02: pull (A)
    request(6, t("2026-01-05", 36_003), "GET", "acme/api", A, tag="1.0"),  # 3 s later: a pull
    request(7, t("2026-01-05"), "GET", "globex/x", A, tag="1.0"),  # another namespace
]
TODAY = date(2026, 2, 15)  # last-2-months = December 2025 and January 2026


def load(runtime: Runtime) -> Runtime:
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
    write_spool(runtime, *EVENTS)
    process(runtime)
    return runtime


@pytest.fixture
def loaded_alone(runtime: Runtime) -> Runtime:
    """EVENTS processed for one test alone: one that adds to the installation (exports)."""
    return load(runtime)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """EVENTS processed once, for the tests that only read the series."""
    runtime = fresh_runtime(catalog_settings(tmp_path_factory.mktemp("known") / "data"))
    try:
        yield load(runtime)
    finally:
        runtime.close()


def series(runtime: Runtime, **kwargs: object) -> list[tuple[str, str | None, int, int]]:
    query = SeriesQuery(period=RelativePeriod.LAST_2_MONTHS, **kwargs)  # type: ignore[arg-type]
    with runtime.sessions() as session:
        rows = namespace_series(session, NamespaceScope("acme"), query, TODAY)
    return [(r["start"][:10], r.get("repo"), r["pullCount"], r["ipCount"]) for r in rows]


def test_months_by_namespace(loaded: Runtime) -> None:
    # December: pulls by A and B. January: A's digest pull + A's two W02 pulls = 3; IPs A and C
    assert series(loaded) == [("2025-12-01", None, 2, 2), ("2026-01-01", None, 3, 2)]


def test_weeks_by_namespace_across_the_new_year(loaded: Runtime) -> None:
    rows = series(loaded, timespan=Timespan.WEEKS)
    # weeks whose Monday lies in Dec 2025 .. Jan 2026: W49 (Dec 1) .. W05 (Jan 26), zero-filled
    assert [r[0] for r in rows] == [
        "2025-12-01",
        "2025-12-08",
        "2025-12-15",
        "2025-12-22",
        "2025-12-29",
        "2026-01-05",
        "2026-01-12",
        "2026-01-19",
        "2026-01-26",
    ]
    by_start = {r[0]: r[2:] for r in rows}
    assert by_start["2025-12-29"] == (3, 3)  # W01: A, B, A pulls; A, B, C seen
    assert by_start["2026-01-05"] == (2, 1)  # W02: two pulls 3 s apart by A
    assert sum(r[2] for r in rows) == 5


def test_months_by_repository(loaded: Runtime) -> None:
    rows = series(loaded, group=Group.REPO)
    assert rows == [
        ("2025-12-01", "api", 2, 2),
        ("2026-01-01", "api", 2, 2),
        ("2025-12-01", "web", 0, 0),
        ("2026-01-01", "web", 1, 1),
    ]
    query = SeriesQuery(period=RelativePeriod.LAST_2_MONTHS, timespan=Timespan.WEEKS)
    with loaded.sessions() as session:
        web = repository_series(session, "acme", "web", query, TODAY)
    assert [(r["start"][:10], r["pullCount"]) for r in web if r["pullCount"]] == [("2025-12-29", 1)]


def test_current_period_is_marked_partial(loaded: Runtime) -> None:
    query = SeriesQuery(period=RelativePeriod.LAST_2_MONTHS, current=True)
    with loaded.sessions() as session:
        rows = namespace_series(session, NamespaceScope("acme"), query, date(2026, 1, 20))
    # on 2026-01-20 the window is Nov and Dec 2025; January so far comes last, partial
    assert [(r["start"][:10], r["pullCount"], r.get("partial")) for r in rows] == [
        ("2025-11-01", 0, None),
        ("2025-12-01", 2, None),
        ("2026-01-01", 3, True),
    ]


def test_complete_period_rows_equal_the_summary_exports(loaded_alone: Runtime) -> None:
    loaded = loaded_alone
    export_closed(loaded, now=end_of_day(TODAY))
    expected = {
        Period.week(2026, 1): series(loaded, timespan=Timespan.WEEKS)[4],
        Period.month(2026, 1): series(loaded)[1],
        Period.month(2025, 12): series(loaded)[0],
    }
    with loaded.sessions() as session:
        for period, (_, _, pulls, ips) in expected.items():
            entry = (
                session.query(ExportFile)
                .filter_by(
                    namespace="acme",
                    period_start=period.start,
                    period_kind=period.kind.value,
                    view="namespace-summary",
                )
                .one()
            )
            text = gzip.decompress((loaded.paths.exports / entry.path).read_bytes()).decode()
            header, row = list(csv.reader(io.StringIO(text)))
            values = dict(zip(header, row, strict=True))
            assert int(values["pull_by_tag"]) + int(values["pull_by_digest"]) == pulls
            assert int(values["unique_ip_count"]) == ips
            assert (values["period_start"], values["period_end"]) == (
                period.start_text,
                period.end_text,
            )


def test_breakdown_by_country(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
    public = "8.8.8.8"  # a registered address: enrichment gives it a country
    country = enrich(pa.array([public]), pa.array([""]))["country"][0].as_py()
    assert country and country != "ZZ"
    write_spool(
        runtime,
        request(1, t("2026-01-05"), "GET", "acme/api", public, tag="1.0"),
        request(2, t("2026-01-06"), "GET", "acme/api", public, tag="1.0"),
        request(3, t("2026-01-06"), "GET", "acme/web", A, tag="1.0"),  # TEST-NET: unknown
        request(4, t("2026-01-07"), "HEAD", "acme/web", B, tag="1.0"),  # unknown too
    )
    process(runtime)
    query = SeriesQuery(period=RelativePeriod.LAST_2_MONTHS, breakdown=Breakdown.COUNTRY)
    with runtime.sessions() as session:
        rows = namespace_series(session, NamespaceScope("acme"), query, TODAY)
        by_repo = namespace_series(
            session,
            NamespaceScope("acme"),
            SeriesQuery(
                period=RelativePeriod.LAST_2_MONTHS, breakdown=Breakdown.COUNTRY, group=Group.REPO
            ),
            TODAY,
        )
        web = repository_series(session, "acme", "web", query, TODAY)
    january = {
        r["country"]: (r["pullCount"], r["ipCount"])
        for r in rows
        if r["start"].startswith("2026-01")
    }
    assert january == {country: (2, 1), "ZZ": (1, 2)}
    assert {r["country"] for r in rows} == {country, "ZZ"}  # each country zero-filled
    assert len(rows) == 4  # two countries × two months
    assert {(r["repo"], r["country"]) for r in by_repo if r["pullCount"]} == {
        ("api", country),
        ("web", "ZZ"),
    }
    assert [
        (r["country"], r["pullCount"], r["ipCount"])
        for r in web
        if r["start"].startswith("2026-01")
    ] == [("ZZ", 1, 2)]


@pytest.mark.slow
def test_iso_week_53_around_new_year(runtime: Runtime) -> None:
    """2020 has 53 ISO weeks: W53 runs Mon 2020-12-28 .. Sun 2021-01-03, across two months
    and two calendar years."""
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
    write_spool(
        runtime,
        request(1, t("2020-12-28"), "GET", "acme/api", A, tag="1.0"),  # W53, December
        request(2, t("2021-01-02"), "GET", "acme/api", B, tag="1.0"),  # W53, January
        request(3, t("2021-01-04"), "GET", "acme/api", B, tag="1.0"),  # 2021-W01
    )
    process(runtime)
    query = SeriesQuery(period=RelativePeriod.LAST_2_MONTHS, timespan=Timespan.WEEKS)
    with runtime.sessions() as session:
        weeks = namespace_series(session, NamespaceScope("acme"), query, date(2021, 2, 15))
        months = namespace_series(
            session,
            NamespaceScope("acme"),
            SeriesQuery(period=RelativePeriod.LAST_2_MONTHS),
            date(2021, 2, 15),
        )
    counted = [
        (r["start"], r["end"], r["pullCount"], r["ipCount"]) for r in weeks if r["pullCount"]
    ]
    assert counted == [
        ("2020-12-28T00:00:00Z", "2021-01-03T23:59:59Z", 2, 2),
        ("2021-01-04T00:00:00Z", "2021-01-10T23:59:59Z", 1, 1),
    ]
    assert [(r["start"][:7], r["pullCount"], r["ipCount"]) for r in months] == [
        ("2020-12", 1, 1),
        ("2021-01", 2, 1),
    ]
    export_closed(runtime, now=end_of_day(date(2021, 2, 15)))
    with runtime.sessions() as session:
        labels = {
            row.file_name.split("_")[2]
            for row in session.query(ExportFile).filter_by(namespace="acme", view="summary")
        }
    assert {"2020-W53", "2021-W01", "2020-12", "2021-01"} == labels
