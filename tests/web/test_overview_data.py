"""The overview's numbers for a view, worked out by hand over a small processed event set, and
the view's checks against the viewer's scope. No browser: the page's data module alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from pullstats.accounts import service
from pullstats.api.dashboard.overview_data import (
    BadView,
    Metric,
    NotReadable,
    View,
    overview,
    parse_view,
    repositories,
)
from pullstats.api.viewer import Viewer
from pullstats.ingest.records import PullRequestRecord
from pullstats.pipeline import process
from pullstats.rollups.series_query import RelativePeriod, Timespan
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import catalog_settings, fresh_runtime, write_spool

A, B, C = "192.0.2.1", "198.51.100.2", "2001:db8::3"
TODAY = date(2026, 2, 15)  # last-2-months: Dec 2025 and Jan 2026; Feb partial; before: Oct, Nov


def t(day: str, seconds: float = 36_000) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(seconds=seconds)


def request(
    n: int,
    when: datetime,
    method: str,
    name: str,
    ip: str,
    tag: str = "",
    user: str = "",
    ua: str = "docker/27.3.1",
) -> object:
    return PullRequestRecord(
        f"ov-{n}", micros(when), method, name, tag, "sha256:0d", ip, ua, "notification",
        now_micros(), "", user,
    )  # fmt: skip


EVENTS = [
    request(1, t("2025-11-10"), "GET", "acme/api", A, "0.9"),  # Nov: the previous range
    request(2, t("2025-12-29"), "GET", "acme/api", A, "1.0", "ci"),  # Dec: by tag (A, as ci)
    request(3, t("2025-12-31"), "GET", "acme/api", B, "1.0"),  # Dec: pull by tag (B)
    request(4, t("2026-01-01"), "GET", "acme/web", A, user="ci"),  # Jan: by digest (A, as ci)
    request(5, t("2026-01-01"), "HEAD", "acme/api", C, "1.0"),  # Jan: version check (C)
    request(6, t("2026-01-05"), "GET", "acme/api", A, "1.0", "bob"),  # Jan: pull (A, as bob)
    request(7, t("2026-01-05", 36_003), "GET", "acme/api", A, "1.0", "bob"),  # 3 s later
    request(8, t("2026-01-05"), "GET", "globex/x", A, "1.0"),  # another namespace
    request(9, t("2026-02-02"), "GET", "acme/api", B, "2.0"),  # Feb: the partial month
]

VIEWER = Viewer(1, "ann", ("acme",), {"acme": ("globex/x",)})


def acme_with(runtime: Runtime, events: list[object]) -> Runtime:
    """``runtime`` with the namespace acme and ``events`` processed."""
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
    write_spool(runtime, *events)  # type: ignore[arg-type]
    process(runtime)
    return runtime


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """EVENTS processed once for the module: the tests given it only read the overview."""
    runtime = fresh_runtime(catalog_settings(tmp_path_factory.mktemp("overview") / "data"))
    try:
        yield acme_with(runtime, EVENTS)
    finally:
        runtime.close()


def test_the_namespace_total_of_the_last_two_months(processed: Runtime) -> None:
    view = View("acme", period=RelativePeriod.LAST_2_MONTHS)
    with processed.sessions() as session:
        ov = overview(session, VIEWER, view, TODAY)
    [line] = ov.lines
    assert [(p.start[:10], p.value, p.partial) for p in line.points] == [
        ("2025-12-01", 2, False),
        ("2026-01-01", 3, False),
        ("2026-02-01", 1, True),  # the current month, shown and marked
    ]
    heads = {h.label: (h.value, h.previous) for h in ov.headlines}
    assert heads == {
        "Pulls": (5, 1),  # Dec 2 + Jan 3 (the version check is no pull); Nov 1
        "Pulls by tag": (4, 1),
        "Pulls by digest": (1, 0),
        "Version checks": (1, 0),
        # the exact means, rounded only where shown: Dec {A, B}, Jan {A, C}; Oct none, Nov {A}
        "Unique IPs per month (average)": (2, Fraction(1, 2)),
        # Dec {ci}, Jan {ci, bob}: 3 / 2; Oct and Nov none
        "Signed-in users per month (average)": (Fraction(3, 2), 0),
        # addresses of anonymous pulls: Dec {B}, Jan {C}; Oct none, Nov {A}
        "Anonymous users per month (average)": (1, Fraction(1, 2)),
    }
    assert ov.headlines[0].change == 4.0
    assert ov.headlines[2].change is None  # nothing before: no change to show
    means = {h.label: (h.value_text, h.previous_text, h.change) for h in ov.headlines[4:]}
    assert means == {
        "Unique IPs per month (average)": ("2", "0.5", 3.0),  # (2 - 0.5) / 0.5
        "Signed-in users per month (average)": ("1.5", "0", None),
        "Anonymous users per month (average)": ("1", "0.5", 1.0),
    }
    assert [(x.name, x.pulls) for x in ov.top_tags] == [("api:1.0", 4)]
    assert [(x.name, x.pulls) for x in ov.top_digests] == [("web@sha256:0d", 1)]
    tools = [(x.name, x.version, x.pulls, x.version_check) for x in ov.breakdowns["tool_version"]]
    assert tools == [("docker", "27.3.1", 5, 1)]
    assert [(x.name, x.version, x.pulls) for x in ov.breakdowns["tool"]] == [("docker", "", 5)]
    assert [(x.name, x.pulls) for x in ov.breakdowns["country"]] == [("ZZ", 5)]  # TEST-NETs
    assert [(x.name, x.pulls) for x in ov.breakdowns["host"]] == [("", 5)]
    # docker outside any known cloud: a local-dev engine
    assert [(x.name, x.pulls) for x in ov.breakdowns["category"]] == [("engine", 5)]
    assert [(x.name, x.pulls) for x in ov.breakdowns["use_case"]] == [("Local Dev", 5)]
    assert ov.has_data


def test_selected_repositories_one_line_each_and_no_summed_distinct_count(
    processed: Runtime,
) -> None:
    params = {
        "repo": ["web", "globex/x"],
        "period": ["last-2-months"],
        "metric": ["ips"],
    }
    view = parse_view(VIEWER, params)
    assert view.repos == ("acme/web", "globex/x")
    with processed.sessions() as session:
        ov = overview(session, VIEWER, view, TODAY)
        choices = repositories(session, VIEWER, "acme")
    assert choices == ["acme/api", "acme/web", "globex/x"]
    assert [(line.label, [p.value for p in line.points]) for line in ov.lines] == [
        ("acme/web", [0, 1, 0]),  # unique IPs: A in January
        ("globex/x", [0, 1, 0]),
    ]
    heads = {h.label: h.value for h in ov.headlines}
    assert heads["Pulls"] == 2  # web's digest pull and x's tag pull, both in January
    assert heads["Unique IPs per month (average)"] is None  # A pulled both: never summed
    assert heads["Signed-in users per month (average)"] is None
    assert heads["Anonymous users per month (average)"] is None
    assert [(x.name, x.pulls) for x in ov.top_tags] == [("globex/x:1.0", 1)]


@pytest.mark.parametrize("repos", [["globex/x", "web"], ["web", "globex/x"]])
def test_top_references_name_repositories_relative_to_the_viewed_namespace(
    processed: Runtime, repos: list[str]
) -> None:
    """A repository of another namespace is named in full, whichever repository comes first:
    ``x:1.0`` would read as acme/x."""
    view = parse_view(VIEWER, {"repo": repos, "period": ["last-2-months"]})
    with processed.sessions() as session:
        ov = overview(session, VIEWER, view, TODAY)
    assert [(x.name, x.pulls) for x in ov.top_tags] == [("globex/x:1.0", 1)]
    assert [(x.name, x.pulls) for x in ov.top_digests] == [("web@sha256:0d", 1)]


def test_weeks_split_the_same_pulls(processed: Runtime) -> None:
    view = View("acme", timespan=Timespan.WEEKS, period=RelativePeriod.LAST_2_MONTHS)
    with processed.sessions() as session:
        ov = overview(session, VIEWER, view, TODAY)
    points = [(p.start[:10], p.value) for p in ov.lines[0].points if p.value]
    # W01 (Mon 2025-12-29) holds Dec 29, 31 and Jan 1: three pulls; W02 two. Feb 2's W06 is
    # complete but its Monday is past the window; the current W07 (Feb 9-15) is partial, empty
    assert points == [("2025-12-29", 3), ("2026-01-05", 2)]
    last = ov.lines[0].points[-1]
    assert (last.start[:10], last.value, last.partial) == ("2026-02-09", 0, True)
    assert ov.headlines[0].value == 5


def test_weeks_are_compared_with_as_many_weeks_before(runtime: Runtime) -> None:
    """Dec and Jan hold nine Mondays (Dec 1 to Jan 26): the headlines compare them with the
    nine weeks before, Mon Sep 29 to Sun Nov 30, whichever month each Monday is in."""
    early = request(10, t("2025-10-01"), "GET", "acme/api", C, "0.8")  # in the week of Sep 29
    view = View("acme", timespan=Timespan.WEEKS, period=RelativePeriod.LAST_2_MONTHS)
    with acme_with(runtime, [*EVENTS, early]).sessions() as session:
        ov = overview(session, VIEWER, view, TODAY)
    assert ov.compared_with == "9 weeks"
    heads = {h.label: (h.value, h.previous) for h in ov.headlines}
    assert heads["Pulls"] == (5, 2)  # Nov 10 and Oct 1 before


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"timespan": ["days"]}, "timespan must be one of months, weeks, not 'days'"),
        ({"period": ["last-5-months"]}, "period must be one of last-2-months"),
        ({"metric": ["bytes"]}, "metric must be one of pulls, ips"),
        ({"repo": ["globex/other"]}, "repository 'globex/other' is not one of acme's"),
        ({"repo": ["initech/app"]}, "repository 'initech/app' is not one of acme's"),
        ({"colour": ["red"]}, "unknown parameter 'colour'"),
        ({"metric": ["pulls", "ips"]}, "metric given 2 times"),
        ({"repo": [f"r{n}" for n in range(51)]}, "at most 50 repositories"),
    ],
)
def test_bad_values_are_refused_with_a_message(params: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(BadView, match=message.replace("(", r"\(")):
        parse_view(VIEWER, params)


def test_another_namespace_is_not_readable_even_through_an_extra_repo() -> None:
    with pytest.raises(NotReadable, match="namespace 'globex' not found"):
        parse_view(VIEWER, {"namespace": ["globex"]})
    with pytest.raises(NotReadable):
        parse_view(Viewer(2, "bob", ()), {})


def test_the_view_defaults_and_its_share_parameters() -> None:
    view = parse_view(VIEWER, {})
    assert view == View("acme")
    assert view.metric is Metric.PULLS
    assert view.params(metric="ips") == {
        "namespace": "acme",
        "repo": [],
        "timespan": "months",
        "period": "last-12-months",
        "metric": "ips",
    }


DOCKER, TRIVY = "docker/27.3.1", "trivy/0.56.2 go-containerregistry/v0.20.2"
RENOVATE = "RenovateBot/37.440.7 (https://github.com/renovatebot/renovate)"


def client_request(
    n: int, when: datetime, method: str, ip: str, ua: str, tag: str = "1.0"
) -> object:
    return request(n, when, method, "acme/api", ip, tag, ua=ua)


CLIENT_EVENTS = [
    client_request(1, t("2025-11-10"), "GET", A, TRIVY),  # Nov (before): a scanner's pull
    client_request(2, t("2025-12-02"), "GET", A, DOCKER),  # Dec: docker pulls api:1.0
    client_request(3, t("2025-12-03"), "GET", B, TRIVY),  # Dec: trivy reads it
    client_request(4, t("2026-01-04"), "GET", A, DOCKER),  # Jan: docker
    client_request(5, t("2026-01-05"), "GET", C, RENOVATE),  # Jan: renovate, a pull by tag
    client_request(6, t("2026-01-06"), "HEAD", C, RENOVATE),  # Jan: renovate, a version check
    client_request(7, t("2026-02-02"), "GET", B, TRIVY, "2.0"),  # Feb (partial): trivy
]


@pytest.fixture
def with_clients(runtime: Runtime) -> Runtime:
    return acme_with(runtime, CLIENT_EVENTS)


def test_leaving_scanners_and_bots_out_takes_their_pulls_off(with_clients: Runtime) -> None:
    viewer = Viewer(1, "ann", ("acme",), {})
    params = {"period": ["last-2-months"], "exclude": ["scanner,bot"]}
    view = parse_view(viewer, params)
    assert view.exclude == ("scanner", "bot")
    assert view.params()["exclude"] == ["scanner,bot"]  # the share link keeps it
    with with_clients.sessions() as session:
        every = overview(session, viewer, View("acme", period=view.period), TODAY)
        left = overview(session, viewer, view, TODAY)
    points = [(p.start[:10], p.value) for p in every.lines[0].points]
    assert points == [("2025-12-01", 2), ("2026-01-01", 2), ("2026-02-01", 1)]
    points = [(p.start[:10], p.value) for p in left.lines[0].points]
    # Dec: docker only; Jan: docker only (renovate's pull gone); Feb: trivy's gone
    assert points == [("2025-12-01", 1), ("2026-01-01", 1), ("2026-02-01", 0)]
    heads = {h.label: (h.value, h.previous) for h in left.headlines}
    assert heads["Pulls"] == (2, 0)  # 4 - trivy's 1 - renovate's 1; Nov's trivy pull gone too
    assert heads["Version checks"] == (0, 0)  # renovate's HEAD
    assert heads["Unique IPs per month (average)"] == (None, None)  # no split by client
    # users are: Dec's A (docker; B only ran trivy), Jan's A (C only ran renovate); Nov's A
    # only ran trivy. Every client counted: Dec {A, B}, Jan {A, C}
    assert heads["Anonymous users per month (average)"] == (1, 0)
    assert heads["Signed-in users per month (average)"] == (0, 0)
    assert {h.label: h.value for h in every.headlines}["Anonymous users per month (average)"] == 2
    categories = [(x.name, x.pulls) for x in left.breakdowns["category"]]
    assert categories == [("engine", 2)]
    assert [x.name for x in every.breakdowns["category"]] == ["engine", "bot", "scanner"]
    assert [x.name for x in left.breakdowns["tool"]] == ["docker"]
    # the breakdowns that cannot split clients off say so, and keep counting them
    assert sum(x.pulls for x in left.breakdowns["country"]) == 4
    assert any("Top tags and digests" in caveat for caveat in left.caveats)


@pytest.mark.parametrize("raw", [["scanner,robots"], ["bots"]])
def test_an_unknown_category_to_leave_out_is_refused(raw: list[str]) -> None:
    with pytest.raises(BadView, match="exclude: unknown client categor"):
        parse_view(Viewer(1, "ann", ("acme",), {}), {"exclude": raw})
