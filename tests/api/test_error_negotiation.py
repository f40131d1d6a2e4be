"""Which error answers are pages: the API's addresses never, and only for a client that
prefers HTML (``api/dashboard/error_pages.py``); the pages themselves are tested on a server
in ``tests/web/test_error_pages.py``."""

from __future__ import annotations

from fastapi.routing import APIRoute

from pullstats.api.app import create_app
from pullstats.api.dashboard import (
    account,
    account_tokens,
    assets,
    export_files,
    exports_page,
    overview,
    signin,
)
from pullstats.api.dashboard.error_pages import is_api_path, prefers_html
from tests.web.test_error_pages import BROWSER, FIREFOX


def test_every_api_route_is_an_api_path_and_no_page_is() -> None:
    """The API's addresses (the routes of the OpenAPI document) all answer JSON errors; the
    dashboard's pages (left out of the document) are not among them."""
    api = list(create_app().openapi()["paths"])
    pages = [
        route.path
        for module in (
            assets,
            signin,
            overview,
            exports_page,
            export_files,
            account,
            account_tokens,
        )
        for route in module.router.routes
        if isinstance(route, APIRoute)
    ]
    assert len(api) > 15 and "/v2/users/login" in api
    assert [path for path in api if not is_api_path(path)] == []
    assert "/" in pages and "/exports" in pages and "/account" in pages
    assert [path for path in pages if is_api_path(path)] == []


def test_a_browser_is_told_from_a_script_by_accept() -> None:
    assert prefers_html(BROWSER) and prefers_html(FIREFOX) and prefers_html("text/html")
    for accept in (
        "",
        "*/*",
        "application/json",
        "application/json, text/html",  # a tie: the API's own type
        "text/html;q=0.5, application/json",
        "text/html;q=0, */*",
        "text/plain, */*;q=0.1",
    ):
        assert not prefers_html(accept), accept


def test_api_paths_are_whole_segments() -> None:
    for path in ("/v2", "/v2/users/login", "/api/publisher/analytics/v1/x", "/healthz", "/metrics"):
        assert is_api_path(path), path
    for path in ("/", "/v2x", "/apis", "/healthzz", "/metricsz", "/exports", "/account/x"):
        assert not is_api_path(path), path
