"""axe-core (through axe-playwright-python) finds no serious or critical violation on the
sign-in, account, exports and error pages at desktop width and at 375 px, and the overview at
desktop width and at 360 px, where its snippets and tables scroll; screenshots of each."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy.orm import Session

from pullstats.accounts import tokens
from tests.web.conftest import (
    DESKTOP,
    PHONE,
    NewPage,
    SignedInPage,
    Web,
    WebUser,
    outside_requests,
    screenshot,
)
from tests.web.test_dashboard_layout import (  # cora: a fixture, her namespace of many repos
    CROWD,
    cora,  # noqa: F401
)

pytestmark = pytest.mark.xdist_group("web")

SEVERE = {"serious", "critical"}
NARROW = {"width": 360, "height": 740}
#: a member of one namespace, "hollow", that has no data: the overview shows config.yml
HOLLOW = WebUser("hana", "hana lichen barrow quince", ("hollow",))


@pytest.fixture(scope="module")
def hollow(web: Web) -> WebUser:
    """HOLLOW, made once for this module (made here, not in the harness: no other test needs
    a namespace without data)."""
    return web.add_user(HOLLOW, new_namespaces=True)


def _severe_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v.get("impact") in SEVERE
    ]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "375px"])
def test_sign_in_pages(
    web: Web, new_page: NewPage, viewport: dict[str, int], tmp_path: Path
) -> None:
    page = new_page(viewport)
    page.goto("/signin")
    assert _severe_violations(page) == []
    screenshot(page, tmp_path, f"signin-{viewport['width']}")
    page.get_by_label("User name").fill("nobody")  # no such account: it locks out no one
    page.get_by_label("Password or personal access token").fill("a wrong password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").is_visible()
    assert _severe_violations(page) == []  # with the error shown
    assert outside_requests(page) == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "375px"])
def test_error_page(web: Web, new_page: NewPage, viewport: dict[str, int], tmp_path: Path) -> None:
    page = new_page(viewport)
    response = page.goto("/exportz")
    assert response is not None and response.status == 404
    assert _severe_violations(page) == []
    assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(page, tmp_path, f"error-{viewport['width']}")
    assert outside_requests(page) == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "375px"])
@pytest.mark.parametrize("path", ["/account", "/exports?namespace=acme", "/exports"])
def test_signed_in_pages(
    web: Web,
    session_page: SignedInPage,
    viewport: dict[str, int],
    path: str,
    tmp_path: Path,
) -> None:
    user = "bob" if path == "/exports" else "alice"  # /exports: the empty state
    page = session_page(user, viewport=viewport, next_path=path)
    assert _severe_violations(page) == []
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= viewport["width"]
    name = path.strip("/").split("?")[0] + ("-empty" if user == "bob" else "")
    screenshot(page, tmp_path, f"{name}-{viewport['width']}")
    assert outside_requests(page) == []


#: a member of acme whose only token is revoked: the account page's token table has no button
#: (nothing focusable) and scrolls sideways on a phone
REVOKED = WebUser("rhea", "rhea quartz bramble tide", ("acme",))


@pytest.fixture(scope="module")
def revoked_only(web: Web) -> WebUser:
    """REVOKED, made once for this module, with one token, revoked."""

    def one_token_revoked(session: Session) -> None:
        made = tokens.create_pat(session, REVOKED.name, "old-laptop")
        assert tokens.revoke_pat(session, made.text)

    return web.add_user(REVOKED, then=one_token_revoked)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "375px"])
def test_account_page_with_only_a_revoked_token(
    revoked_only: WebUser,
    session_page: SignedInPage,
    viewport: dict[str, int],
    tmp_path: Path,
) -> None:
    """The token table scrolls with no button in it: the scroll region itself takes the
    keyboard focus (axe's scrollable-region-focusable), as the overview's tables do."""
    page = session_page(revoked_only.name, viewport=viewport, next_path="/account")
    assert page.locator("#tokens tbody tr").count() == 1
    assert _severe_violations(page) == []
    assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(page, tmp_path, f"account-revoked-{viewport['width']}")
    assert outside_requests(page) == []


#: (user, path): the overview's states, each with its own scrollable parts
OVERVIEW_STATES = {
    "acme": ("alice", "/"),
    # every repository selected: the table under the chart has a column each and scrolls
    "all-repos": (
        "alice",
        "/?namespace=acme&repo=acme%2Fapi&repo=acme%2Ftools%2Fcli&repo=partner%2Fshared",
    ),
    # more repositories than the chart draws points for: a column per period, a wide table
    "many-repos": (
        "cora",
        "/?namespace=crowd&" + "&".join(f"repo={quote(n, safe='')}" for n in CROWD),
    ),
    "no-namespace": ("bob", "/"),  # the `pullstats members add` hint
    "no-data": ("hana", "/"),  # the config.yml snippet
}


# 360 px, not 375 too: what fits 360 fits 375 (the other pages are checked at 375)
@pytest.mark.parametrize("viewport", [DESKTOP, NARROW], ids=["1280px", "360px"])
@pytest.mark.parametrize("state", list(OVERVIEW_STATES))
@pytest.mark.usefixtures("cora")
def test_overview_page(
    web: Web,
    hollow: WebUser,
    session_page: SignedInPage,
    viewport: dict[str, int],
    state: str,
    tmp_path: Path,
) -> None:
    user, path = OVERVIEW_STATES[state]
    page = session_page(user, viewport=viewport, next_path=path)
    assert _severe_violations(page) == []
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= viewport["width"]
    screenshot(page, tmp_path, f"overview-{state}-{viewport['width']}")
    assert outside_requests(page) == []


def test_choosing_a_year_by_keyboard_waits_for_enter(session_page: SignedInPage) -> None:
    """WCAG 3.2.2: arrowing through the year select changes the setting only; Enter (or the
    form's button) shows that year, and focus comes back to the select on the new page."""
    page = session_page("alice", next_path="/exports?namespace=acme")
    start = page.url
    loads: list[str] = []
    page.on("load", lambda _: loads.append(page.url))
    year = page.get_by_label("Year")
    before = year.input_value()
    year.focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(750)  # a navigation the change started would have begun by now
    chosen = year.input_value()
    assert chosen != before
    assert (page.url, loads) == (start, [])
    assert page.evaluate("() => document.activeElement.id") == "year"

    page.keyboard.press("Enter")
    page.wait_for_url(f"**/exports?namespace=acme&year={chosen}")
    page.wait_for_load_state()
    assert page.get_by_label("Year").input_value() == chosen
    assert page.evaluate("() => document.activeElement.id") == "year"  # where the user was

    page.keyboard.press("ArrowUp")  # back to the newest year, then the form's button
    page.wait_for_timeout(750)
    assert page.url.endswith(f"year={chosen}")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Filter"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/exports?namespace=acme&year={before}")
    assert outside_requests(page) == []


def test_an_unknown_country_is_named_unknown(session_page: SignedInPage) -> None:
    """The rollups keep an unknown country as "ZZ" (the TEST-NET addresses of beta's pulls):
    the page says "unknown", the data-value keeps the code the API answers."""
    page = session_page("alice", next_path="/?namespace=beta")
    cells = page.locator("#bd-country tbody td:first-child")
    assert cells.all_inner_texts() == ["unknown"]
    assert cells.first.get_attribute("data-value") == "ZZ"
