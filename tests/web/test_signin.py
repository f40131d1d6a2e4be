"""Signing in and out of the dashboard in a real browser, and the session cookie's rules."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import NewPage, SignedInPage, Web, outside_requests, sign_in

pytestmark = pytest.mark.xdist_group("web")


def _session_cookie(page: Any) -> dict[str, Any]:
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert "pullstats_session" in cookies, sorted(cookies)
    return cookies["pullstats_session"]


def test_password_sign_in_lands_on_the_overview(web: Web, signed_in_page: SignedInPage) -> None:
    page = signed_in_page("alice")
    assert page.url == f"{web.url}/"
    assert page.get_by_role("heading", name="Overview").is_visible()
    assert page.locator(".who").inner_text() == "alice"
    cookie = _session_cookie(page)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert cookie["secure"] is False  # plain http on loopback, no https public URL
    stored = page.evaluate(
        "() => [document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage)]"
    )
    assert stored == ["", "{}", "{}"]  # no token a script could read
    assert outside_requests(page) == []


def test_a_page_without_a_session_goes_to_sign_in_and_back(web: Web, new_page: NewPage) -> None:
    page = new_page()
    page.goto("/?namespace=beta")
    assert page.url == f"{web.url}/signin?next=%2F%3Fnamespace%3Dbeta"
    sign_in(page, web.users["alice"])
    assert page.url == f"{web.url}/?namespace=beta"
