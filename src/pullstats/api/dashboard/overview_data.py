"""The overview page's numbers for one view: a namespace (or some of its repositories), a
granularity, a window and a metric.

Every number comes from the reads the API uses: the chart's series from
:mod:`pullstats.rollups.series` (exactly what ``…/pulls`` answers, the current period
included and marked partial), the headline counts, top references and breakdowns from
:mod:`pullstats.rollups.range_totals`. The view is checked against the viewer's scope here:
another namespace, or a repository neither the namespace's nor one of its extra repos, is
refused with the same message whether it exists or not.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pullstats.api.dashboard.headline import Headline
from pullstats.api.dashboard.query_checks import BadView, one_value, only_known
from pullstats.api.viewer import Viewer
from pullstats.client_categories import ClientCategory, UnknownCategory, categories_named
from pullstats.db.models import PullRollup
from pullstats.periods import Period
from pullstats.rollups.range_totals import (
    DIMENSIONS,
    PeriodCounts,
    RollupKey,
    Total,
    breakdown_totals,
    category_counts,
    period_counts,
    top_references,
    without,
)
from pullstats.rollups.series import WindowPeriod, namespace_series, repositories_series, window
from pullstats.rollups.series_query import Group, RelativePeriod, SeriesQuery, Timespan
from pullstats.rollups.trend_series import users_left

#: The most repositories one view may select (the API's limit for ``/repos/pulls``).
MAX_REPOS = 50
#: Rows of each top list and breakdown table.
TOP = 10
#: What the page's toggle leaves out: the clients that inflate counts without running images.
SCANNERS_AND_BOTS = (ClientCategory.SCANNER.value, ClientCategory.BOT.value)


class Metric(enum.StrEnum):
    PULLS = "pulls"
    IPS = "ips"

    @property
    def label(self) -> str:
        return "Pulls" if self is Metric.PULLS else "Unique IPs"

    @property
    def field(self) -> str:
        return "pullCount" if self is Metric.PULLS else "ipCount"


class NotReadable(LookupError):
    """A namespace the viewer may not read (the page answers 404, as for one that does not
    exist)."""


@dataclass(frozen=True)
class View:
    namespace: str
    repos: tuple[str, ...] = ()  # "ns/repo" names; empty: the namespace's own total
    timespan: Timespan = Timespan.MONTHS
    period: RelativePeriod = RelativePeriod.LAST_12_MONTHS
    metric: Metric = Metric.PULLS
    #: client categories left out of the counts (``exclude=scanner,bot``); empty: none
    exclude: tuple[str, ...] = ()

    @property
    def keys(self) -> list[RollupKey]:
        if not self.repos:
            return [(self.namespace, "")]
        return [(ns, repo) for ns, _, repo in (name.partition("/") for name in self.repos)]

    def params(self, **changes: Any) -> dict[str, Any]:
        """The query string of this view (with ``changes``): the share link's parameters."""
        values = {
            "namespace": self.namespace,
            "repo": list(self.repos),
            "timespan": self.timespan.value,
            "period": self.period.value,
            "metric": self.metric.value,
        }
        if self.exclude:
            values["exclude"] = [",".join(self.exclude)]
        values.update(changes)
        return values


def _choice(enum_type: type[enum.StrEnum], name: str, raw: str | None, default: Any) -> Any:
    if raw is None or raw == "":
        return default
    try:
        return enum_type(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_type)
        raise BadView(f"{name} must be one of {allowed}, not {raw!r}") from None


def parse_view(viewer: Viewer, params: Mapping[str, Sequence[str]]) -> View:
    """The view a query string asks for, checked against what the viewer may read."""
    timespan, period, metric, exclude = view_values(params)
    namespace = one_value(params, "namespace") or (
        viewer.namespaces[0] if viewer.namespaces else ""
    )
    if namespace not in viewer.namespaces:
        raise NotReadable(f"namespace {namespace!r} not found")
    scope = viewer.scope(namespace)
    repos: list[str] = []
    for raw in params.get("repo", ()):
        name = raw if "/" in raw else f"{namespace}/{raw}"
        owner, _, repo = name.partition("/")
        if not repo or not scope.covers_repository(owner, repo):
            raise BadView(f"repository {raw!r} is not one of {namespace}'s repositories")
        if name not in repos:
            repos.append(name)
    if len(repos) > MAX_REPOS:
        raise BadView(f"at most {MAX_REPOS} repositories at once, not {len(repos)}")
    return View(namespace, tuple(repos), timespan, period, metric, exclude)


def view_values(
    params: Mapping[str, Sequence[str]],
) -> tuple[Timespan, RelativePeriod, Metric, tuple[str, ...]]:
    """The view's values that need no namespace, checked: a user of none gets the same 400."""
    only_known(params, ("namespace", "repo", "timespan", "period", "metric", "exclude"))

    def one(name: str) -> str | None:
        return one_value(params, name)

    return (
        _choice(Timespan, "timespan", one("timespan"), Timespan.MONTHS),
        _choice(RelativePeriod, "period", one("period"), RelativePeriod.LAST_12_MONTHS),
        _choice(Metric, "metric", one("metric"), Metric.PULLS),
        _categories(params.get("exclude", ())),
    )


def _categories(raw: Sequence[str]) -> tuple[str, ...]:
    """The client categories of ``exclude`` values (each a comma-separated list), in the
    categories' own order."""
    try:
        return tuple(category.value for category in categories_named(raw))
    except UnknownCategory as error:
        raise BadView(str(error)) from None


@dataclass(frozen=True)
class Point:
    start: str
    end: str
    value: int
    partial: bool


@dataclass(frozen=True)
class Line:
    label: str
    points: list[Point]


@dataclass
class Overview:
    view: View
    periods: list[WindowPeriod]
    lines: list[Line]
    headlines: list[Headline]
    top_tags: list[Total]
    top_digests: list[Total]
    breakdowns: dict[str, list[Total]] = field(default_factory=dict)
    has_data: bool = False
    #: what leaving clients out could not change (shown beside the figures)
    caveats: list[str] = field(default_factory=list)
    #: the range the headline figures are compared with: ``9 weeks`` before the complete ones
    compared_with: str = ""


def repositories(session: Session, viewer: Viewer, namespace: str) -> list[str]:
    """The repositories the view may select: the namespace's own that have rollups, then its
    extra repos (``ns2/repo``)."""
    own = session.scalars(
        select(PullRollup.repository)
        .where(PullRollup.level == "repository", PullRollup.namespace == namespace)
        .distinct()
        .order_by(PullRollup.repository)
    )
    return [f"{namespace}/{repo}" for repo in own] + list(viewer.scope(namespace).extra_repos)


def overview(session: Session, viewer: Viewer, view: View, today: date) -> Overview:
    """Everything the page shows for ``view`` on ``today`` (UTC)."""
    query = SeriesQuery(timespan=view.timespan, period=view.period, current=True)
    periods = window(query, today)
    lines = _lines(session, viewer, view, query, today)
    complete = [wp.period.start for wp in periods if not wp.partial]
    previous = [period.start for period in _before([wp.period for wp in periods if not wp.partial])]
    kind = view.timespan.kind
    keys = view.keys
    now = period_counts(session, keys, kind, complete)
    before = period_counts(session, keys, kind, previous)
    caveats: list[str] = []
    if view.exclude:
        out = view.exclude
        now = without(now, category_counts(session, keys, kind, complete, out))
        before = without(before, category_counts(session, keys, kind, previous, out))
        if len(keys) == 1:  # the users left, exact, from the trends rollup
            left_out = [ClientCategory(category) for category in out]
            now = _with_users(now, users_left(session, keys, kind, complete, left_out))
            before = _with_users(before, users_left(session, keys, kind, previous, left_out))
        if view.metric is Metric.PULLS:
            starts = [wp.period.start for wp in periods]
            gone = category_counts(session, keys, kind, starts, out)
            lines = [
                Line(line.label, _points_without(line.points, starts, gone.get(key, {})))
                for line, key in zip(lines, keys, strict=True)
            ]
        else:
            caveats.append(
                "The chart's unique IPs count every client: a distinct count keeps no split by "
                "client."
            )
        caveats.append(
            "Top tags and digests, and the breakdowns by country, cloud provider, network type "
            f"and use case, still count {' and '.join(out)} clients: the rollups keep no split "
            "of those by client."
        )
    breakdowns = {
        dimension: breakdown_totals(
            session, keys, kind, complete, dimension, limit=TOP, exclude=view.exclude
        )
        for dimension in DIMENSIONS
    }
    return Overview(
        view=view,
        periods=periods,
        lines=lines,
        headlines=_headlines(view, now, before, len(complete), len(previous)),
        compared_with=f"{len(previous)} {view.timespan.kind.value}s" if previous else "",
        top_tags=top_references(
            session, keys, kind, complete, digests=False, home=view.namespace, limit=TOP
        ),
        top_digests=top_references(
            session, keys, kind, complete, digests=True, home=view.namespace, limit=TOP
        ),
        breakdowns=breakdowns,
        has_data=any(point.value for line in lines for point in line.points) or bool(now),
        caveats=caveats,
    )


def _before(periods: list[Period]) -> list[Period]:
    """As many periods as ``periods`` (consecutive, oldest first), just before them: the
    headlines compare like with like (9 weeks with 9 weeks, whichever months hold them)."""
    if not periods:
        return []
    earlier = [periods[0].preceding()]
    while len(earlier) < len(periods):
        earlier.append(earlier[-1].preceding())
    return earlier[::-1]


def _with_users(
    counts: Mapping[RollupKey, Mapping[date, PeriodCounts]],
    users: Mapping[RollupKey, Mapping[date, tuple[int, int]]],
) -> dict[RollupKey, dict[date, PeriodCounts]]:
    """``counts`` with the signed-in and anonymous users of ``users`` (none where absent)."""
    result: dict[RollupKey, dict[date, PeriodCounts]] = {}
    for key, by_period in counts.items():
        result[key] = {}
        for start, c in by_period.items():
            signed_in, anonymous = users.get(key, {}).get(start, (0, 0))
            result[key][start] = dataclasses.replace(
                c, unique_authenticated_users=signed_in, unique_unauthenticated_users=anonymous
            )
    return result


def _points_without(
    points: list[Point], starts: list[date], gone: Mapping[date, PeriodCounts]
) -> list[Point]:
    """A pulls line less the left-out clients' pulls of each period."""
    return [
        dataclasses.replace(point, value=point.value - gone.get(start, PeriodCounts()).pulls)
        for point, start in zip(points, starts, strict=True)
    ]


def _lines(
    session: Session, viewer: Viewer, view: View, query: SeriesQuery, today: date
) -> list[Line]:
    """One line per selected repository, or the namespace total: the API's series rows."""
    if not view.repos:
        scope = viewer.scope(view.namespace)
        total = SeriesQuery(view.timespan, view.period, Group.NAMESPACE, current=True)
        rows = namespace_series(session, scope, total, today)
        return [Line(f"{view.namespace} (all repositories)", _points(rows, view.metric))]
    keys = [(name.partition("/")[0], name.partition("/")[2]) for name in view.repos]
    series = repositories_series(session, keys, query, today)
    return [
        Line(name, _points(series[key], view.metric))
        for name, key in zip(view.repos, keys, strict=True)
    ]


def _points(rows: list[dict[str, Any]], metric: Metric) -> list[Point]:
    return [
        Point(row["start"], row["end"], int(row[metric.field]), bool(row.get("partial")))
        for row in rows
    ]


def _headlines(
    view: View,
    now: Mapping[RollupKey, Mapping[date, Any]],
    before: Mapping[RollupKey, Mapping[date, Any]],
    periods_now: int,
    periods_before: int,
) -> list[Headline]:
    def total(counts: Mapping[RollupKey, Mapping[date, Any]], attribute: str) -> int:
        return sum(
            getattr(c, attribute) for by_period in counts.values() for c in by_period.values()
        )

    figures = [
        Headline(label, total(now, attribute), total(before, attribute))
        for label, attribute in (
            ("Pulls", "pulls"),
            ("Pulls by tag", "pull_by_tag"),
            ("Pulls by digest", "pull_by_digest"),
            ("Version checks", "version_check"),
        )
    ]
    unit = "week" if view.timespan is Timespan.WEEKS else "month"
    # distinct counts: the mean of each period's own, and only for one key
    for what, attribute, meaning in DISTINCT_HEADLINES:
        label = f"{what} per {unit} (average)"
        if view.exclude and attribute == "unique_ip_count":
            note = f"{what} cannot leave clients out: a distinct count keeps no split by client"
            figures.append(Headline(label, None, None, note))
        elif len(view.keys) == 1:
            average_now = _average(total(now, attribute), periods_now)
            average_before = _average(total(before, attribute), periods_before)
            note = f"the mean of each {unit}'s own count{meaning}"
            if view.exclude:
                note += f"; users who pulled only with {' or '.join(view.exclude)} clients left out"
            figures.append(Headline(label, average_now, average_before, note))
        else:
            charted = ": see each one in the chart" if attribute == "unique_ip_count" else ""
            note = f"{what} do not add up across repositories{charted}"
            figures.append(Headline(label, None, None, note))
    return figures


#: The overview's distinct counts: what, the rollup column, and what it means.
DISTINCT_HEADLINES = (
    ("Unique IPs", "unique_ip_count", ""),
    (
        "Signed-in users",
        "unique_authenticated_users",
        ": distinct user names the registry authenticated",
    ),
    (
        "Anonymous users",
        "unique_unauthenticated_users",
        ": distinct addresses of pulls without a user",
    ),
)


def _average(total: int, periods: int) -> Fraction:
    return Fraction(total, periods) if periods else Fraction(0)
