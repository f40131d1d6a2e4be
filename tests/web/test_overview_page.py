"""The overview page in a real browser: switching the view, the numbers against the API's
answers for the same selection, the share link, scope, errors and accessibility.

Uses the harness of ``tests/web/conftest.py`` (alice reads acme and beta, acme has the extra
repo partner/shared; erin reads partner; bob reads nothing).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from pullstats.accounts import service
from tests.web.conftest import (
    PHONE,
    NewPage,
    SignedInPage,
    Web,
    WebUser,
    outside_requests,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.xdist_group("web")

API = "/api/publisher/analytics/v1"
_TOKENS: dict[str, str] = {}


def api(web: Web, user: str, path: str, **params: Any) -> Any:
    """The API's answer for ``user`` (a bearer token from the same server's login)."""
    if user not in _TOKENS:
        login = httpx.post(
            f"{web.url}/v2/users/login",
            json={"username": user, "password": web.users[user].password},
        )
        assert login.status_code == 200, login.text
        _TOKENS[user] = login.json()["token"]
    answer = httpx.get(
        f"{web.url}{API}{path}",
        params=params,
        headers={"Authorization": f"Bearer {_TOKENS[user]}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def number(text: str) -> int:
    return int(text.strip().replace(",", ""))


def series_table(page: Any) -> tuple[list[str], dict[str, list[int]]]:
    """The table below the chart: its column heads (series) and each series' values."""
    heads = page.locator("#series-table thead th").all_inner_texts()[1:]
    rows = page.locator("#series-table tbody tr")
    values: dict[str, list[int]] = {head: [] for head in heads}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td").all_inner_texts()
        for head, cell in zip(heads, cells, strict=True):
            values[head].append(number(cell))
    return heads, values


def breakdown(page: Any, dimension: str) -> dict[str, int]:
    rows = page.locator(f"#bd-{dimension} tbody tr")
    found = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        key = row.locator("td").first.get_attribute("data-value")
        found[key] = number(row.locator("span.num").inner_text())
    return found


def query_of(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_the_namespace_total_equals_the_api(web: Web, session_page: SignedInPage) -> None:
    page = session_page("alice", next_path="/?namespace=acme&period=last-2-months")
    assert page.get_by_role("heading", name="Overview of acme").is_visible()
    rows = api(web, "alice", "/namespaces/acme/pulls", period="last-2-months", current="true")[
        "pulls"
    ]
    heads, values = series_table(page)
    assert heads == ["acme (all repositories)"]
    assert values[heads[0]] == [row["pullCount"] for row in rows]
    assert rows[-1]["partial"] is True  # today's pull, in the current month
    assert page.locator("#series-table tbody tr.partial").count() == 1
    complete = sum(row["pullCount"] for row in rows if not row.get("partial"))
    assert number(page.locator('[data-headline="Pulls"]').inner_text()) == complete
    assert complete == 2  # by hand: acme/api and acme/tools/cli, once each, last month
    by_country = api(
        web, "alice", "/namespaces/acme/pulls", period="last-2-months", breakdown="country"
    )["pulls"]
    expected: Counter[str] = Counter()
    for row in by_country:
        expected[row["country"]] += row["pullCount"]
    assert breakdown(page, "country") == {k: v for k, v in expected.items() if v}
    # by hand (the API has no route for these): last month's two pulls of acme, one from an
    # AWS address in the US, one from a Hetzner address in Germany, both by docker 27.3.1
    assert breakdown(page, "country") == {"US": 1, "DE": 1}
    assert breakdown(page, "host") == {"aws": 1, "hetzner": 1}
    assert breakdown(page, "type") == {"hosting": 2}
    assert breakdown(page, "tool") == {"docker": 2}
    assert breakdown(page, "tool_version") == {"docker 27.3.1": 2}
    # docker is a local-dev engine; both pulls came from clouds (AWS, Hetzner): CI/CD
    assert breakdown(page, "category") == {"engine": 2}
    assert breakdown(page, "use_case") == {"CI/CD": 2}
    # the chart: one focusable point per period, its tooltip with the exact number
    points = page.locator(".chart-points .pt")
    assert points.count() == len(rows)
    points.last.focus()
    tooltip = page.locator("#tooltip")
    assert tooltip.is_visible()
    assert tooltip.inner_text().endswith(f"(partial): {rows[-1]['pullCount']} pulls")
    assert outside_requests(page) == []


def test_switching_namespace_granularity_range_and_metric(
    web: Web, session_page: SignedInPage
) -> None:
    page = session_page("alice")
    page.get_by_label("Namespace").select_option("beta")
    page.get_by_role("button", name="Switch").click()
    page.wait_for_load_state()
    assert query_of(page)["namespace"] == ["beta"]
    assert page.get_by_role("heading", name="Overview of beta").is_visible()
    page.get_by_role("radio", name="Weeks").check()
    page.get_by_label("Range").select_option("last-3-months")
    page.get_by_role("radio", name="Unique IPs").check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert {k: v for k, v in query_of(page).items() if k != "repo"} == {
        "namespace": ["beta"],
        "timespan": ["weeks"],
        "period": ["last-3-months"],
        "metric": ["ips"],
    }
    rows = api(
        web,
        "alice",
        "/namespaces/beta/pulls",
        timespan="weeks",
        period="last-3-months",
        current="true",
    )["pulls"]
    heads, values = series_table(page)
    assert values[heads[0]] == [row["ipCount"] for row in rows]
    assert sum(values[heads[0]]) == 2  # two addresses pulled beta/web last month
    first = page.locator("#series-table tbody th").first.inner_text()
    assert "-W" in first  # ISO weeks
    assert page.get_by_role("heading", name="Unique IPs per week").is_visible()


def test_leaving_scanners_and_bots_out_through_the_toggle(session_page: SignedInPage) -> None:
    page = session_page("alice", next_path="/?namespace=acme&period=last-2-months")
    toggle = page.get_by_label("Leave out scanners and bots")
    assert not toggle.is_checked()
    toggle.check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert query_of(page)["exclude"] == ["scanner,bot"]
    assert page.get_by_label("Leave out scanners and bots").is_checked()
    assert "Leaving out scanner and bot clients." in page.locator("#excluded").inner_text()
    # acme's pulls were docker's: nothing to take off
    assert number(page.locator('[data-headline="Pulls"]').inner_text()) == 2
    assert "exclude=scanner%2Cbot" in page.locator("#share-url").input_value()
    page.get_by_label("Leave out scanners and bots").uncheck()
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert "exclude" not in query_of(page)
    assert page.locator("#excluded").count() == 0


def test_another_exclusion_is_neither_shown_as_the_toggle_nor_lost_on_show(
    session_page: SignedInPage,
) -> None:
    """``exclude=engine`` is not "scanners and bots": the toggle stays off, a box of its own
    names it, and Show after another change keeps it rather than trading it for scanner,bot."""
    page = session_page("alice", next_path="/?namespace=acme&period=last-2-months&exclude=engine")
    assert not page.get_by_label("Leave out scanners and bots").is_checked()
    assert page.get_by_label("Leave out engine clients").is_checked()
    assert "Leaving out engine clients." in page.locator("#excluded").inner_text()
    page.get_by_role("radio", name="Weeks").check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert query_of(page)["timespan"] == ["weeks"]
    assert query_of(page)["exclude"] == ["engine"]
    # both: the toggle on, and the rest in a box of their own
    page.goto("/?namespace=acme&exclude=bot,engine,scanner")
    assert page.get_by_label("Leave out scanners and bots").is_checked()
    assert page.get_by_label("Leave out engine clients").is_checked()
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert sorted(query_of(page)["exclude"]) == ["engine", "scanner,bot"]
    assert (
        "Leaving out engine and scanner and bot clients." in page.locator("#excluded").inner_text()
    )


def test_picking_repositories_through_the_filter(web: Web, session_page: SignedInPage) -> None:
    page = session_page("alice", next_path="/?namespace=acme&period=last-2-months")
    page.get_by_text("Repositories: all").click()
    page.get_by_label("Filter repositories by name").fill("cli")
    shown = page.locator("#repo-list li:visible").all_inner_texts()
    assert [text.strip() for text in shown] == ["acme/tools/cli"]
    page.get_by_label("acme/tools/cli").check()
    page.get_by_label("Filter repositories by name").fill("shared")
    page.get_by_label("partner/shared").check()  # acme's extra repo
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert query_of(page)["repo"] == ["acme/tools/cli", "partner/shared"]
    answer = api(
        web,
        "alice",
        "/repos/pulls",
        repos=["acme/tools/cli", "partner/shared"],
        period="last-2-months",
        current="true",
    )["repos"]
    heads, values = series_table(page)
    assert heads == ["acme/tools/cli", "partner/shared"]
    for head in heads:
        assert values[head] == [row["pullCount"] for row in answer[head]["pulls"]]
    assert number(page.locator('[data-headline="Pulls"]').inner_text()) == 2
    assert "do not add up across repositories" in page.locator(".cards").inner_text()


def test_the_share_link_restores_the_view_in_a_fresh_context(
    web: Web, session_page: SignedInPage, signed_in_page: SignedInPage
) -> None:
    view = "/?namespace=acme&repo=acme%2Fapi&timespan=weeks&period=last-6-months&metric=ips"
    page = session_page("alice", next_path=view)
    link = page.locator("#share-url").input_value()
    assert link.startswith(web.url + "/?")
    _, table = series_table(page)
    again = signed_in_page("alice", next_path=link[len(web.url) :])
    assert again.url == link
    assert series_table(again)[1] == table
    assert again.get_by_role("radio", name="Weeks").is_checked()
    assert again.get_by_role("radio", name="Unique IPs").is_checked()
    assert again.get_by_label("Range").input_value() == "last-6-months"
    assert again.get_by_role("checkbox", name="acme/api").is_checked()


@pytest.mark.parametrize(
    ("user", "path", "status", "message"),
    [
        ("erin", "/?namespace=acme", 404, "namespace 'acme' not found"),
        ("alice", "/?namespace=partner", 404, "namespace 'partner' not found"),
        ("alice", "/?repo=partner%2Fprivate", 400, "'partner/private' is not one of acme's"),
        ("alice", "/?namespace=beta&repo=partner%2Fshared", 400, "is not one of beta's"),
        # names acme may hold, but no repository of it (the API answers them 404)
        ("alice", "/?repo=acme%2Fnope", 400, "'acme/nope' is not one of acme's"),
        ("alice", "/?repo=nope", 400, "'acme/nope' is not one of acme's"),
        ("alice", "/?repo=acme%2Fapi&repo=%00", 400, "'acme/\\x00' is not one of acme's"),
        ("alice", "/?timespan=days", 400, "timespan must be one of months, weeks"),
        ("alice", "/?period=last-5-years", 400, "period must be one of"),
    ],
)
def test_crafted_urls_show_no_other_data(
    web: Web, session_page: SignedInPage, user: str, path: str, status: int, message: str
) -> None:
    page = session_page(user)
    answer = page.goto(path)
    assert answer.status == status
    assert message in page.locator("#view-error").inner_text()
    assert page.locator("#series-table").count() == 0


def test_a_user_sees_only_their_namespaces(session_page: SignedInPage) -> None:
    page = session_page("erin")
    html = page.content()
    assert "Overview of partner" in html
    assert "acme" not in html and "beta" not in html
    alice = session_page("alice")
    options = alice.get_by_label("Namespace").locator("option").all_inner_texts()
    assert options == ["acme", "beta"]
    assert "partner/private" not in alice.content()


def test_no_namespace_asks_for_an_owner(session_page: SignedInPage) -> None:
    page = session_page("bob")
    assert page.get_by_role("heading", name="No namespace yet").is_visible()
    assert "pullstats members add NAMESPACE bob" in page.locator("#no-namespaces").inner_text()
    # a namespace named in a link is not found, as on /exports, not "no namespace yet"
    for path in ("/?namespace=acme", "/exports?namespace=acme"):
        answer = page.goto(path)
        assert answer is not None and answer.status == 404, path
    # a bad value is a 400 naming it for a user of no namespace too, as for everyone else
    for path, named in (("/?timespan=days", "timespan"), ("/?colour=red", "colour")):
        answer = page.goto(path)
        assert answer is not None and answer.status == 400, path
        assert named in page.locator("main").inner_text(), path


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["1280px", "375px"])
def test_no_serious_accessibility_violations(
    session_page: SignedInPage, viewport: dict[str, int] | None, tmp_path: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = (
        session_page("alice", next_path="/?repo=acme%2Fapi&repo=partner%2Fshared")
        if viewport is None
        else session_page("alice", viewport=viewport)
    )
    results = Axe().run(page)
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
    assert screenshot(page, tmp_path, "overview").stat().st_size > 10_000


def test_a_namespace_without_data_shows_how_to_send_pulls(web: Web, new_page: NewPage) -> None:
    user = WebUser("zed", "zed quiet empty namespace", ("quiet",))
    runtime = web.runtime()
    try:
        with runtime.sessions.begin() as session:
            service.create_namespace(session, "quiet")
            service.create_user(session, user.name, user.password)
            service.add_member(session, "quiet", user.name, "member")
    finally:
        runtime.close()
    page = new_page()
    sign_in(page, user)
    empty = page.locator("#no-data")
    assert empty.get_by_role("heading", name="No data yet").is_visible()
    snippet = empty.locator("pre").inner_text()
    assert f"url: {web.url}/ingest/v1/registry/events" in snippet
    assert "pullstats ingest-tokens create" in empty.inner_text()
    _, values = series_table(page)
    assert values == {"quiet (all repositories)": [0] * 13}  # 12 months and the current one
