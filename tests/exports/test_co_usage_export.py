"""The ``co-usage`` dataset (Docker's Technographic report) through process and export, by
hand: eleven clients (six signed in) pull acme/api and partner/shared, ten of them
partner/private and nine other/nine, all on one day of 2026-W02. A namespace sees pairings with
its own repositories and with published ones only, so an unpublished repository of another
namespace is never named; publishing one exports every period again."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from pullstats.accounts import publishing, service
from pullstats.db.models import ExportFile
from pullstats.exports.closing import export_closed
from pullstats.ingest.records import PullRequestRecord
from pullstats.periods import Period
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros
from tests.conftest import write_spool

WEEK = Period.week(2026, 2)
NOW = end_of_day(date(2026, 1, 20))
HEADER = [
    "DATE_GRANULARITY", "DATE_REFERENCE", "PUBLISHER_NAME", "DVPP_IMAGE", "PAIRED_IMAGE",
    "USERS", "TOTAL_PULLERS", "PCT_USERS",
]  # fmt: skip


def records() -> list[PullRequestRecord]:
    found = []
    pulled = {"acme/api": 11, "partner/shared": 11, "partner/private": 10, "other/nine": 9}
    for repo, clients in pulled.items():
        for n in range(clients):
            ts = micros(datetime(2026, 1, 6, 9, tzinfo=UTC) + timedelta(minutes=n))
            found.append(
                PullRequestRecord(
                    f"{repo}-{n}", ts, "GET", repo, "1.0", "sha256:" + "c" * 64,
                    f"192.0.2.{10 + n}", "docker/27.3.1", "notification", ts + 1,
                    user=f"user{n}" if n < 6 else "",
                )
            )  # fmt: skip
    return found


def report(runtime: Runtime, namespace: str) -> list[list[str]]:
    with runtime.sessions() as session:
        (entry,) = session.scalars(
            select(ExportFile).where(
                ExportFile.namespace == namespace,
                ExportFile.period_kind == "week",
                ExportFile.period_start == WEEK.start,
                ExportFile.view == "co-usage-report",
            )
        )
        data = (runtime.paths.exports / entry.path).read_bytes()
    rows = list(csv.reader(io.StringIO(gzip.decompress(data).decode())))
    assert rows[0] == HEADER
    return [row[3:] for row in rows[1:]]


def test_only_own_and_published_repositories_are_named(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        for namespace in ("acme", "partner", "other"):
            service.create_namespace(session, namespace)
        assert publishing.publish(session, "partner/shared")
    write_spool(runtime, *records())
    process(runtime)
    assert export_closed(runtime, now=NOW).failed == []
    # partner/private shares 10 users with acme/api, but is not public: never named here
    assert report(runtime, "acme") == [["acme/api", "partner/shared", "11", "11", "100.00"]]
    # partner's own pair both ways (10 of shared's 11 users: 90.91 %); acme/api is not public
    assert report(runtime, "partner") == [
        ["partner/private", "partner/shared", "10", "10", "100.00"],
        ["partner/shared", "partner/private", "10", "11", "90.91"],
    ]
    assert report(runtime, "other") == []  # 9 users in common with anyone: below the floor
    with runtime.sessions.begin() as session:
        assert publishing.publish(session, "partner/private")
        assert publishing.publish(session, "acme/api")
        assert not publishing.publish(session, "acme/api")
    again = export_closed(runtime, now=NOW)
    assert again.failed == [] and again.up_to_date == 0  # every period written again
    assert report(runtime, "acme") == [
        ["acme/api", "partner/shared", "11", "11", "100.00"],
        ["acme/api", "partner/private", "10", "11", "90.91"],
    ]
    assert report(runtime, "partner") == [
        ["partner/private", "acme/api", "10", "10", "100.00"],
        ["partner/private", "partner/shared", "10", "10", "100.00"],
        ["partner/shared", "acme/api", "11", "11", "100.00"],
        ["partner/shared", "partner/private", "10", "11", "90.91"],
    ]
    with runtime.sessions.begin() as session:
        publishing.unpublish(session, "partner/private")
        assert [name for name, _ in publishing.published(session)] == [
            "acme/api",
            "partner/shared",
        ]
    export_closed(runtime, now=NOW)
    assert report(runtime, "acme") == [["acme/api", "partner/shared", "11", "11", "100.00"]]
