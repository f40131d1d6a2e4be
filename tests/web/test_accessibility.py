"""axe-core (through axe-playwright-python) finds no serious or critical violation on the
sign-in, account and exports pages, at desktop width and at 375 px; screenshots of each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import (
    DESKTOP,
    PHONE,
    NewPage,
    SignedInPage,
    Web,
    outside_requests,
    screenshot,
)

pytestmark = pytest.mark.xdist_group("web")

SEVERE = {"serious", "critical"}


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
    page.get_by_label("User name").fill("bob")
    page.get_by_label("Password or personal access token").fill("a wrong password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").is_visible()
    assert _severe_violations(page) == []  # with the error shown
    assert outside_requests(page) == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "375px"])
@pytest.mark.parametrize("path", ["/account", "/exports?namespace=acme", "/exports"])
def test_signed_in_pages(
    web: Web,
    signed_in_page: SignedInPage,
    viewport: dict[str, int],
    path: str,
    tmp_path: Path,
) -> None:
    user = "bob" if path == "/exports" else "alice"  # /exports: the empty state
    page = signed_in_page(user, viewport=viewport, next_path=path)
    assert _severe_violations(page) == []
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= viewport["width"]
    name = path.strip("/").split("?")[0] + ("-empty" if user == "bob" else "")
    screenshot(page, tmp_path, f"{name}-{viewport['width']}")
    assert outside_requests(page) == []
