"""The summary exports and the rollups the API serves hold the same numbers, on random data.

Each example is a fresh data dir: random requests of four clients to four repositories over
two weeks that straddle a month end, plus random Docker Hub history (raw rows and repo-level
summary rows of one week), imported, processed and exported as an operator would. Then, for
every exported (namespace, period):

- every summary, repo-summary and namespace-summary row of the namespace's own repositories
  and of its extra repo equals the ``pull_rollups`` row of its key, and no rollup row of that
  scope is missing from the CSV;
- the ``…/pulls`` series (the API's rows, read from the rollups) show the same ``pullCount``
  and ``ipCount`` per namespace and per repository;
- the namespace-summary row of the extra repo's own namespace counts that repo only (its
  pulls are the repo's, its unique IPs no more than the repo's), not the whole namespace the
  rollups hold;
- Docker's Summary report (the ``summary`` dataset) has a row for every repository, tag and
  digest of the summary views, and no other, with ``DATA_DOWNLOADS`` = the pulls by tag and by
  digest (the API's ``pullCount``), ``VERSION_CHECKS`` and their sum;
- Docker's Trends report (the ``trends`` dataset) is the ``…/trends`` route's rows at the
  report's grain; the route's signed-in and anonymous users per repository and for the
  namespace equal the pull rollups' (another query of the same actions), and its downloads and
  version checks too wherever no imported summary adds to the pull rollups;
- with scanners left out (``exclude=scanner``), the route's rows for the namespace, per
  repository and per tag are those worked out here in Python from the period's actions in the
  lake, leaving out Trivy's (every third request).
"""

from __future__ import annotations

import csv
import gzip
import io
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from pullstats.accounts import service
from pullstats.client_categories import ClientCategory, category_of
from pullstats.db.models import ExportFile, PullRollup
from pullstats.duckdb_engine import read_parquet
from pullstats.exports.closing import export_closed
from pullstats.importers.dockerhub_csv import import_files
from pullstats.ingest.records import PullRequestRecord
from pullstats.namespace_scope import NamespaceScope
from pullstats.periods import Period, PeriodKind
from pullstats.pipeline import end_of_day, process
from pullstats.rollups.compute import action_files
from pullstats.rollups.series import namespace_series, repository_series
from pullstats.rollups.series_query import Group, RelativePeriod, SeriesQuery, Timespan
from pullstats.rollups.trend_series import TrendsQuery, trend_series
from pullstats.rollups.trends import REPORT_GROUPING
from pullstats.runtime import Runtime
from pullstats.timestamps import micros
from tests.conftest import catalog_settings, examples, fresh_runtime, write_spool

START = datetime(2026, 1, 26, tzinfo=UTC)  # Monday of 2026-W05, whose Sunday is 1 February
DAYS = 14
HUB_WEEK = Period.week(2026, 5)
TODAY = date(2026, 4, 1)  # the API's last 12 months then cover January and February 2026
THROUGH = date(2026, 3, 1)

NAMESPACES = ("acme", "partner")
EXTRA = "partner/shared"  # an extra repo of acme
REPOSITORIES = ("acme/web", "acme/tools/cli", EXTRA, "partner/private")
OWN_REPOSITORIES = ("acme/web", "acme/tools/cli", "partner/private")  # Hub history goes here
CLIENTS = ("192.0.2.1", "192.0.2.2", "198.51.100.3", "2001:db8::4")
DIGESTS = ("sha256:" + "a" * 64, "sha256:" + "b" * 64)
TAGS = ("1.0", "latest")
ACTIONS = ("pull_by_tag", "pull_by_digest", "version_check")

Counts = tuple[int, int, int, int]  # unique_ip_count, pull_by_tag, pull_by_digest, version_check

requests = st.lists(
    st.tuples(
        st.sampled_from(REPOSITORIES),
        st.sampled_from(("GET", "HEAD")),
        st.sampled_from((*TAGS, "")),  # "" is a request by digest
        st.sampled_from(DIGESTS),
        st.sampled_from(CLIENTS),
        st.integers(0, DAYS - 1),
        # seconds into the day: close together (joins), across the 5 s edge, and at midnight
        st.sampled_from((0.0, 0.3, 4.0, 9.5, 86_399.9)),
        st.sampled_from(("", "", "ann", "bob")),  # the user: anonymous half the time
    ),
    max_size=25,
)
hub_raw = st.lists(
    st.tuples(st.sampled_from(OWN_REPOSITORIES), st.sampled_from(TAGS), st.sampled_from(ACTIONS),
              st.integers(0, DAYS - 1)),
    max_size=4,
)  # fmt: skip
hub_summaries = st.dictionaries(
    st.sampled_from(OWN_REPOSITORIES), st.tuples(*[st.integers(0, 5)] * 4), max_size=3
)


@pytest.mark.slow
@settings(
    # each example processes and exports a lake (about 1.5 s): 20 in a thorough run (CI),
    # 10 in the README's test command
    max_examples=examples(20),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
@given(requests=requests, hub_raw=hub_raw, hub_summaries=hub_summaries)
def test_summary_exports_equal_the_rollups_and_the_api(
    requests: list[tuple[str, str, str, str, str, int, float, str]],
    hub_raw: list[tuple[str, str, str, int]],
    hub_summaries: dict[str, Counts],
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        runtime = fresh_runtime(catalog_settings(Path(scratch) / "data"))
        try:
            _load(runtime, Path(scratch), requests, hub_raw, hub_summaries)
            result = export_closed(runtime, now=end_of_day(THROUGH))
            assert result.failed == []
            with runtime.sessions() as session:
                for task in result.exported:
                    _check(runtime, session, task.namespace, task.period)
                    _check_trends(runtime, session, task.namespace, task.period, hub_summaries)
                    _check_exclude(runtime, session, task.namespace, task.period)
        finally:
            runtime.close()


def _load(
    runtime: Runtime,
    scratch: Path,
    requests: list[tuple[str, str, str, str, str, int, float, str]],
    hub_raw: list[tuple[str, str, str, int]],
    hub_summaries: dict[str, Counts],
) -> None:
    with runtime.sessions.begin() as session:
        for namespace in NAMESPACES:
            service.create_namespace(session, namespace)
        service.add_extra_repo(session, "acme", EXTRA)
    hub_files = []
    if hub_raw:
        raw = scratch / "hub_raw.csv"
        raw.write_text(
            "timestamp,namespace,repository,reference,tag,action\n"
            + "".join(
                f"{(START + timedelta(days=day, hours=6)).isoformat()},{name.split('/')[0]},"
                f"{name.partition('/')[2]},{tag},{tag},{action}\n"
                for name, tag, action, day in hub_raw
            )
        )
        hub_files.append(raw)
    if hub_summaries:
        summary = scratch / "hub_repo-summary.csv"
        summary.write_text(
            "period_start,period_end,namespace,repository,unique_ip_count,pull_by_tag,"
            "pull_by_digest,version_check\n"
            + "".join(
                f"{HUB_WEEK.start_text},{HUB_WEEK.end_text},{name.split('/')[0]},"
                f"{name.partition('/')[2]},{','.join(map(str, counts))}\n"
                for name, counts in sorted(hub_summaries.items())
            )
        )
        hub_files.append(summary)
    reports = import_files(runtime, hub_files)
    assert [(r.status, dict(r.skipped)) for r in reports] == [("imported", {})] * len(hub_files)
    records = []
    for n, (name, method, tag, digest, client, day, seconds, user) in enumerate(requests):
        instant = START + timedelta(days=day, seconds=seconds)
        ts = micros(instant)
        agent = "trivy/0.56.2" if n % 3 == 2 else "docker/27.3.1"
        records.append(
            PullRequestRecord(
                f"e{n}", ts, method, name, tag, digest, client, agent, "notification",
                ts + 1_000_000, user=user,
            )
        )  # fmt: skip
    if records:
        write_spool(runtime, *records)
    process(runtime)


def _csv_counts(runtime: Runtime, session: Session, namespace: str, period: Period, view: str,
                width: int) -> dict[tuple[str, ...], Counts]:  # fmt: skip
    text = _export_text(runtime, session, namespace, period, view)
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert all(row[:2] == [period.start_text, period.end_text] for row in rows)
    found = {}
    for row in rows:
        ips, by_tag, by_digest, checks = map(int, row[2 + width :])
        found[tuple(row[2 : 2 + width])] = (ips, by_tag, by_digest, checks)
    return found


def _rollups(session: Session, period: Period, level: str) -> dict[tuple[str, ...], Counts]:
    width = {"namespace": 1, "repository": 2, "reference": 3}[level]
    rows = session.scalars(
        select(PullRollup).where(
            PullRollup.period_kind == period.kind.value,
            PullRollup.period_start == period.start,
            PullRollup.level == level,
        )
    )
    return {
        (r.namespace, r.repository, r.reference)[:width]: (
            r.unique_ip_count, r.pull_by_tag, r.pull_by_digest, r.version_check,
        )
        for r in rows
    }  # fmt: skip


def _in_scope(namespace: str, key: tuple[str, ...]) -> bool:
    """Whether a reference or repository key is in ``namespace``'s export."""
    own = key[0] == namespace
    return own or (namespace == "acme" and f"{key[0]}/{key[1]}" == EXTRA)


def _check(runtime: Runtime, session: Session, namespace: str, period: Period) -> None:
    for view, level, width in (("summary", "reference", 3), ("repo-summary", "repository", 2)):
        exported = _csv_counts(runtime, session, namespace, period, view, width)
        rolled = {
            k: v for k, v in _rollups(session, period, level).items() if _in_scope(namespace, k)
        }
        assert exported == rolled, (view, namespace, period.label)  # fmt: skip
    namespaces = _csv_counts(runtime, session, namespace, period, "namespace-summary", 1)
    rolled = _rollups(session, period, "namespace")
    # the own row is there when the namespace has any (an export may hold its extra repo only)
    assert namespaces.get((namespace,)) == rolled.get((namespace,))
    repos = _csv_counts(runtime, session, namespace, period, "repo-summary", 2)
    for (other,), (ips, *pulls) in namespaces.items():
        if other == namespace:
            continue
        # the extra repo's namespace, counting only the extra repo
        assert namespace == "acme" and other == EXTRA.split("/")[0]
        (repo_ips, *repo_pulls) = repos[tuple(EXTRA.split("/"))]
        assert (ips, pulls) == (repo_ips, repo_pulls)
    _check_api(session, namespace, period, namespaces, repos)
    references = _csv_counts(runtime, session, namespace, period, "summary", 3)
    _check_report(runtime, session, namespace, period, repos, references)


def _export_text(
    runtime: Runtime, session: Session, namespace: str, period: Period, view: str
) -> str:
    """The text of a (namespace, period)'s one part of ``view``."""
    (entry,) = session.scalars(
        select(ExportFile).where(
            ExportFile.namespace == namespace,
            ExportFile.period_kind == period.kind.value,
            ExportFile.period_start == period.start,
            ExportFile.view == view,
        )
    )
    return gzip.decompress((runtime.paths.exports / entry.path).read_bytes()).decode()


def _check_report(
    runtime: Runtime,
    session: Session,
    namespace: str,
    period: Period,
    repos: dict[tuple[str, ...], Counts],
    references: dict[tuple[str, ...], Counts],
) -> None:
    """The Summary report's rows against the summary views' (already tied to the rollups)."""
    text = _export_text(runtime, session, namespace, period, "summary-report")
    granularity = "weekly" if period.kind is PeriodKind.WEEK else "monthly"
    found: dict[tuple[str, tuple[str, ...]], tuple[int, int, int]] = {}
    for row in list(csv.reader(io.StringIO(text)))[1:]:
        assert row[:3] == [granularity, period.start.isoformat(), namespace]
        level, reference = row[3], row[4]
        if level == "repository":
            key: tuple[str, ...] = tuple(reference.split("/", 1))
        elif level == "digest":
            name, _, digest = reference.partition("@")
            key = (*name.split("/", 1), digest)
        else:
            assert level == "tag", level
            name, _, tag = reference.rpartition(":")
            key = (*name.split("/", 1), tag)
        downloads, checks, events = map(int, row[5:])
        found[(level, key)] = (downloads, checks, events)
    expected = {
        ("repository", key): (tag + digest, checks, tag + digest + checks)
        for key, (_, tag, digest, checks) in repos.items()
    }
    expected |= {
        ("digest" if ":" in key[2] else "tag", key): (tag + digest, checks, tag + digest + checks)
        for key, (_, tag, digest, checks) in references.items()
    }
    assert found == expected, (namespace, period.label)


def _check_trends(
    runtime: Runtime,
    session: Session,
    namespace: str,
    period: Period,
    hub_summaries: dict[str, Counts],
) -> None:
    """The Trends report is the trends route's rows at its grain; the route's users per
    repository and for the namespace are the pull rollups' (two queries of the same actions),
    and so are its pulls where no imported summary adds to the pull rollups."""
    timespan = Timespan.MONTHS if period.kind is PeriodKind.MONTH else Timespan.WEEKS
    scope = NamespaceScope(namespace, (EXTRA,) if namespace == "acme" else ())

    def route(grouping: tuple[str, ...]) -> list[dict[str, Any]]:
        query = TrendsQuery(timespan, grouping=grouping, first=period.start, last=period.start)
        return trend_series(session, scope, query, TODAY)

    text = _export_text(runtime, session, namespace, period, "trends-report")
    report = sorted(tuple(row[3:]) for row in list(csv.reader(io.StringIO(text)))[1:])
    api = sorted(
        (
            f"{r['namespace']}/{r['repo']}", r["namespace"], r["country"], r["cloud"] or "no csp",
            r["tool"], r["tag"] or "\\N", str(r["dataDownloads"]), str(r["versionChecks"]),
            str(r["pulls"]), str(r["uniqueAuthenticatedUsers"]),
            str(r["uniqueUnauthenticatedUsers"]), r["category"], r["useCase"],
        )
        for r in route(REPORT_GROUPING)
    )  # fmt: skip
    assert report == api, (namespace, period.label)
    for row in route(("repo",)) + route(()):
        repo = row.get("repo", "")
        level = "repository" if repo else "namespace"
        key = (period.kind.value, period.start, level, row["namespace"], repo, "")
        rollup = session.get(PullRollup, key)
        if rollup is None:  # the namespace's zero-filled total of a period it has no pull in
            assert not repo and row["pulls"] == row["uniqueUnauthenticatedUsers"] == 0, key
            continue
        users = (rollup.unique_authenticated_users, rollup.unique_unauthenticated_users)
        assert (row["uniqueAuthenticatedUsers"], row["uniqueUnauthenticatedUsers"]) == users, key
        summarised = period == HUB_WEEK and (
            f"{row['namespace']}/{repo}" in hub_summaries
            or (not repo and any(k.startswith(namespace + "/") for k in hub_summaries))
        )
        if not summarised:
            pulls = rollup.pull_by_tag + rollup.pull_by_digest, rollup.version_check
            assert (row["dataDownloads"], row["versionChecks"]) == pulls, key


def _check_exclude(runtime: Runtime, session: Session, namespace: str, period: Period) -> None:
    """``exclude=scanner``: the route's rows equal the period's actions of the clients kept,
    counted here (a series of scanners alone is not shown; the namespace's total always is)."""
    timespan = Timespan.MONTHS if period.kind is PeriodKind.MONTH else Timespan.WEEKS
    scope = NamespaceScope(namespace, (EXTRA,) if namespace == "acme" else ())
    files = action_files(runtime, period)
    actions = (
        duckdb.sql(
            "SELECT namespace, repository, coalesce(tag, ''), action, user_hash, ip_hash, "
            f"coalesce(user_agent_tool, '') FROM {read_parquet(files)}"
        ).fetchall()
        if files
        else []
    )
    for grouping in ((), ("repo",), ("repo", "tag")):
        expected: dict[tuple[str, ...], list[Any]] = {}
        if not grouping:
            expected[(namespace,)] = [0, 0, set(), set()]
        for owner, repo, tag, action, user, address, tool in actions:
            if category_of(tool) is ClientCategory.SCANNER:
                continue
            if not (owner == namespace or (grouping and f"{owner}/{repo}" in scope.extra_repos)):
                continue
            key = (owner, repo, tag)[: 1 + len(grouping)]
            counts = expected.setdefault(key, [0, 0, set(), set()])
            counts[1 if action == "version_check" else 0] += 1
            if user is not None:
                counts[2].add(user)
            elif address is not None:
                counts[3].add(address)
        query = TrendsQuery(
            timespan,
            grouping=grouping,
            first=period.start,
            last=period.start,
            exclude=(ClientCategory.SCANNER,),
        )
        found = {
            (r["namespace"], r.get("repo", ""), r.get("tag", ""))[: 1 + len(grouping)]: [
                r["dataDownloads"],
                r["versionChecks"],
                r["uniqueAuthenticatedUsers"],
                r["uniqueUnauthenticatedUsers"],
            ]
            for r in trend_series(session, scope, query, TODAY)
        }
        worked = {k: [d, c, len(u), len(a)] for k, (d, c, u, a) in expected.items()}
        assert found == worked, (namespace, period.label, grouping)


def _check_api(
    session: Session,
    namespace: str,
    period: Period,
    namespaces: dict[tuple[str, ...], Counts],
    repos: dict[tuple[str, ...], Counts],
) -> None:
    timespan = Timespan.MONTHS if period.kind is PeriodKind.MONTH else Timespan.WEEKS
    query = SeriesQuery(timespan, RelativePeriod.LAST_12_MONTHS)
    series = namespace_series(session, NamespaceScope(namespace), query, TODAY)
    (row,) = [r for r in series if r["start"] == period.start_text]
    ips, by_tag, by_digest, _ = namespaces.get((namespace,), (0, 0, 0, 0))
    assert (row["pullCount"], row["ipCount"]) == (by_tag + by_digest, ips)
    grouped = SeriesQuery(timespan, RelativePeriod.LAST_12_MONTHS, group=Group.REPO)
    extras = (EXTRA,) if namespace == "acme" else ()
    by_repo = _api_repo_rows(
        namespace_series(session, NamespaceScope(namespace, extras), grouped, TODAY), period
    )
    for key, (ips, by_tag, by_digest, _) in repos.items():
        assert by_repo.pop(key) == (by_tag + by_digest, ips), key
    assert set(by_repo.values()) <= {(0, 0)}  # zero-filled: repositories without a row here
    for (ns, repo), counts in repos.items():
        (one,) = [
            r
            for r in repository_series(session, ns, repo, query, TODAY)
            if r["start"] == period.start_text
        ]
        assert (one["pullCount"], one["ipCount"]) == (counts[1] + counts[2], counts[0])


def _api_repo_rows(
    rows: list[dict[str, Any]], period: Period
) -> dict[tuple[str, ...], tuple[int, int]]:
    """The ``group=repo`` rows of one period, by (namespace, repository)."""
    return {
        (r["namespace"], r["repo"]): (r["pullCount"], r["ipCount"])
        for r in rows
        if r["start"] == period.start_text
    }


def test_history_imported_after_process_reaches_the_exports_with_the_rollups(
    runtime: Runtime, tmp_path: Path
) -> None:
    """A Docker Hub summary imported between ``process`` and ``export`` is in neither the API
    nor the exports until the next ``process`` rolls it up; then in both, and re-exported."""
    week = Period.week(2026, 2)
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
    pulled = datetime(2026, 1, 6, 9, tzinfo=UTC)
    write_spool(
        runtime,
        PullRequestRecord("p1", micros(pulled), "GET", "acme/web", "1.0", DIGESTS[0],
                          CLIENTS[0], "docker/27.3.1", "notification", micros(pulled) + 1),
    )  # fmt: skip
    process(runtime)
    hub = tmp_path / "hub_repo-summary.csv"
    hub.write_text(
        "period_start,period_end,namespace,repository,unique_ip_count,pull_by_tag,"
        f"pull_by_digest,version_check\n{week.start_text},{week.end_text},acme,web,4,6,0,2\n"
    )
    assert [report.status for report in import_files(runtime, [hub])] == ["imported"]
    now = end_of_day(date(2026, 1, 13))
    assert [task.period for task in export_closed(runtime, now=now).exported] == [week]
    with runtime.sessions() as session:
        before = _csv_counts(runtime, session, "acme", week, "repo-summary", 2)
        assert before == {("acme", "web"): (1, 1, 0, 0)}  # the lake's pull, as the API has it
        _check(runtime, session, "acme", week)
    process(runtime)  # rolls the imported week up: a new generation, so the week is dirty
    assert [task.period for task in export_closed(runtime, now=now).exported] == [week]
    with runtime.sessions() as session:
        after = _csv_counts(runtime, session, "acme", week, "repo-summary", 2)
        # no Hub raw rows for the key: the summary's pulls are added to the lake's, and its IPs
        assert after == {("acme", "web"): (1 + 4, 1 + 6, 0, 2)}
        _check(runtime, session, "acme", week)
