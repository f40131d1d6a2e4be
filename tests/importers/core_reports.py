"""Docker's current ("DVP Core") Summary and Trends reports written for the tests: to the columns
of Docker's *Insights and analytics* page, for periods set relative to today (so that the API's
relative windows, last 12 months and last weeks, hold them), with the rollups they should give.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pullstats.accounts import service
from pullstats.importers.dockerhub_csv import FileReport, import_files
from pullstats.periods import Period, PeriodKind, period_of
from pullstats.runtime import Runtime

TODAY = datetime.now(UTC).date()
#: a closed week and a closed month, well inside the API's default windows
WEEK = period_of(PeriodKind.WEEK, TODAY - timedelta(weeks=5))
MONTH = period_of(PeriodKind.MONTH, (TODAY.replace(day=1) - timedelta(days=1)).replace(day=1))
#: the month before, for the Trends report
EARLIER = period_of(PeriodKind.MONTH, MONTH.start - timedelta(days=1))
DIGEST = "sha256:" + "a" * 64


def summary_report(week: Period = WEEK, month: Period = MONTH) -> str:
    """Docker's Summary report: a weekly and a monthly file's rows in one, with four bad rows."""
    w, m = week.start.isoformat(), month.start.isoformat()
    return (
        "DATE_GRANULARITY,DATE_REFERENCE,PUBLISHER_NAME,LEVEL,REFERENCE,DATA_DOWNLOADS,"
        "VERSION_CHECKS,EVENT_COUNT\n"
        f"WEEKLY,{w},acme,repository,acme/api,120,30,150\n"
        f"WEEKLY,{w},acme,repository,web,8,2,10\n"
        f"WEEKLY,{w},acme,tag,acme/api:1.0,100,25,125\n"
        f"WEEKLY,{w},acme,tag,api:latest,15,5,20\n"
        f"WEEKLY,{w},acme,digest,acme/api@{DIGEST},5,0,5\n"
        f"MONTHLY,{m},acme,repository,acme/api,500,100,600\n"
        # line 8: a tag without its repository (the report has no repository column)
        f"WEEKLY,{w},acme,tag,latest,1,0,1\n"
        # line 9: a week that does not start on a Monday
        f"WEEKLY,{(week.start + timedelta(days=1)).isoformat()},acme,repository,api,1,0,1\n"
        # line 10: a level Docker does not write
        f"WEEKLY,{w},acme,branch,api,1,0,1\n"
        # line 11: counts that do not add up to EVENT_COUNT
        f"WEEKLY,{w},acme,repository,db,1,1,5\n"
    )


def trends_report(month: Period = EARLIER) -> str:
    """Docker's Trends report of one month: a repository's pulls split by country, cloud,
    client tool and tag (``\\N``: pulled by digest)."""
    m = month.start.isoformat()
    return (
        "DATE_GRANULARITY,DATE_REFERENCE,PUBLISHER_NAME,IMAGE_REPOSITORY,NAMESPACE,IP_COUNTRY,"
        "CLOUD_SERVICE_PROVIDER,USER_AGENT,TAG,DATA_DOWNLOADS,VERSION_CHECKS,PULLS,"
        "UNIQUE_AUTHENTICATED_USERS,UNIQUE_UNAUTHENTICATED_USERS\n"
        f"monthly,{m},acme,acme/api,acme,US,aws,docker,1.0,40,10,50,3,7\n"
        f"monthly,{m},acme,acme/api,acme,DE,no csp,containerd,1.0,6,0,6,0,2\n"
        f"monthly,{m},acme,acme/api,acme,US,gcp,docker,\\N,9,1,10,1,1\n"
        f"monthly,{m},acme,acme/web,acme,\\N,no csp,docker-scout,latest,0,12,12,0,4\n"
    )


def write(path: Path, text: str, gzipped: bool) -> Path:
    if gzipped:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def register(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")


def imported(runtime: Runtime, *paths: Path, namespace: str | None = None) -> list[FileReport]:
    reports = import_files(runtime, list(paths), namespace=namespace)
    assert [r.error for r in reports if r.status == "failed"] == []
    return reports


#: the Summary report's rollups, worked by hand (by tag, by digest, version checks, unique IPs)
SUMMARY_WEEK = {
    # a repository's DATA_DOWNLOADS are not split by Docker: recorded as pulls by tag
    "repository:api:": (120, 0, 30, 0),
    "repository:web:": (8, 0, 2, 0),
    # the report has no namespace level: the sum of its repositories (pulls add up)
    "namespace::": (128, 0, 32, 0),
    "reference:api:1.0": (100, 0, 25, 0),
    "reference:api:latest": (15, 0, 5, 0),
    f"reference:api:{DIGEST}": (0, 5, 0, 0),  # a digest's downloads are pulls by digest
}
SUMMARY_MONTH = {"repository:api:": (500, 0, 100, 0), "namespace::": (500, 0, 100, 0)}
#: the Trends report's rollups: api 1.0 is 40 + 6 by tag and 10 + 0 checks; api's untagged 9
#: downloads are by digest, its checks 10 + 0 + 1; web only checks, 12
TRENDS_MONTH = {
    "reference:api:1.0": (46, 0, 10, 0),
    "repository:api:": (46, 9, 11, 0),
    "reference:web:latest": (0, 0, 12, 0),
    "repository:web:": (0, 0, 12, 0),
    "namespace::": (46, 9, 23, 0),
}
