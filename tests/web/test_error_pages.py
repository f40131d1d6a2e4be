"""Error answers of the dashboard's addresses: a page in the dashboard's layout for a browser
(status and headers kept), JSON for everything else and, whatever the client accepts, for the
API's addresses (Docker Hub's clients and scripts read those bodies).

On the harness's server (``tests/web/conftest.py``): over HTTP with ``httpx``, as a browser's
``Accept`` and as a script's, and in Chromium for the pages a publisher would meet.
"""

from __future__ import annotations

import html
from typing import Any

import httpx
import pytest

from tests.web.conftest import NewPage, SignedInPage, Web, outside_requests, session_client

pytestmark = pytest.mark.xdist_group("web")

#: what Chromium sends when it opens an address (a navigation)
BROWSER = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
NOT_FOUND = "There is no page at this address"
#: the addresses below that are the dashboard's (or no one's), not the API's
PAGES = {"/exportz", "/", "/signin"}
#: what a browser sends, and a client that asks for HTML alone
BROWSERS = (BROWSER, "text/html")


def _html_client(web: Web) -> httpx.Client:
    return httpx.Client(base_url=web.url, timeout=30, headers={"Accept": BROWSER})


def _assert_error_page(answer: httpx.Response, status: int) -> str:
    """``answer`` is the dashboard's error page with ``status``: HTML under the pages' policy,
    with a way back to the overview, and nothing of the server's insides."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html"), answer.headers
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["vary"] == "Accept"
    text = answer.text
    assert text.startswith("<!doctype html>")
    assert 'href="/">Back to the overview</a>' in text
    assert '<link rel="stylesheet" href="/static/dashboard.css?v=' in text
    for leak in ("Traceback", '"detail"', "site-packages", "/src/pullstats", "<script>", "style="):
        assert leak not in text, leak
    return text


def test_unknown_addresses_are_a_page_for_a_browser(web: Web) -> None:
    with _html_client(web) as client:
        for path in ("/exportz", "/account/no-such-page", "/signin/no-such-step", "/static"):
            text = _assert_error_page(client.get(path), 404)
            assert "<h1>Page not found</h1>" in text and NOT_FOUND in text, path
            # signed out: the way in too
            assert 'href="/signin">Sign in</a>' in text, path
            # the address is not echoed into the page
            assert "exportz" not in text and "no-such" not in text, path
        head = client.head("/exportz")
    assert head.status_code == 404 and head.content == b""
    assert head.headers["content-type"].startswith("text/html")


def test_a_signed_in_browser_gets_its_header_and_no_sign_in_link(web: Web) -> None:
    with session_client(web, "alice") as client:
        answer = client.get("/exportz", headers={"Accept": FIREFOX})
    text = _assert_error_page(answer, 404)
    assert '<span class="who">alice</span>' in text  # the header of a signed-in page
    assert ">Sign in</a>" not in text


def test_a_wrong_method_keeps_its_allow_header(web: Web) -> None:
    with _html_client(web) as client:
        as_page = client.delete("/")
        as_page_signin = client.put("/signin")
    with httpx.Client(base_url=web.url, timeout=30) as client:
        as_json = client.delete("/")
    text = _assert_error_page(as_page, 405)
    assert "<h1>Not allowed here</h1>" in text
    assert as_page.headers["allow"] == as_json.headers["allow"] == "GET, HEAD"
    # every route of the address: the page and its form (Starlette named the first route's,
    # "GET", though the form is posted there)
    assert _assert_error_page(as_page_signin, 405)
    assert as_page_signin.headers["allow"] == "GET, HEAD, POST"


def test_a_refused_form_says_why_on_a_page(web: Web) -> None:
    """The dashboard's own 403 (a form from another site) and 415, as pages with their
    sentence; a script is still answered with the JSON it reads."""
    with _html_client(web) as client:
        cross_site = client.post(
            "/signin",
            data={"username": "alice", "secret": "x"},
            headers={"Origin": "http://evil.example"},
        )
        not_a_form = client.post("/signin", content=b"{}", headers={"Origin": web.url})
    text = html.unescape(_assert_error_page(cross_site, 403))
    assert "Cross-site form refused: submit the form from this site's own pages." in text
    text = _assert_error_page(not_a_form, 415)
    assert "Send the form as application/x-www-form-urlencoded." in text


def test_a_form_past_every_bound_is_a_page_as_a_smaller_one_is(web: Web) -> None:
    """A form posted past the 1 MiB bound of every body (``api/request_bodies.py``) is refused by
    the form's own, smaller one, on a page for a browser, as a form of 20 KB is: not with the
    JSON the API's addresses answer before reading a body."""
    field = b"username=alice&secret="
    with _html_client(web) as client:
        for size in (20_000, 2_000_000):
            answer = client.post(
                "/signin",
                content=field + b"a" * size,
                headers={"Origin": web.url, "Content-Type": "application/x-www-form-urlencoded"},
            )
            text = _assert_error_page(answer, 413)
            assert "<h1>Too large</h1>" in text and "Form larger than 16384 bytes." in text, size
        # the API's addresses still refuse it unread, in JSON, whatever the client accepts
        login = client.post("/v2/users/login", content=b"{" + b" " * 2_000_000 + b"}")
    assert login.status_code == 413
    assert login.json() == {"detail": "request body larger than 1048576 bytes"}


def test_a_token_session_is_told_to_sign_in_with_the_password(web: Web) -> None:
    dave = web.users["dave"]
    assert dave.pat is not None
    with httpx.Client(base_url=web.url, timeout=30, headers={"Origin": web.url}) as client:
        signed_in = client.post("/signin", data={"username": "dave", "secret": dave.pat})
        assert signed_in.status_code == 303
        page = client.get("/account")
        csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        refused = client.post(
            "/account/tokens", data={"csrf_token": csrf, "label": "x"}, headers={"Accept": BROWSER}
        )
    text = _assert_error_page(refused, 403)
    assert "sign in with your password to change account settings" in text
    assert '<span class="who">dave</span>' in text


def test_scripts_and_the_api_keep_their_json(web: Web) -> None:
    """No ``Accept`` (curl, scripts: ``*/*``) on any address, and any ``Accept`` at all on the
    API's addresses: the JSON bodies and headers of before."""
    api = "/api/publisher/analytics/v1"
    cases = {
        # path, method: (status, body, header that must be kept)
        ("/exportz", "GET"): (404, {"detail": "Not Found"}, None),
        ("/", "DELETE"): (405, {"detail": "Method Not Allowed"}, ("allow", "GET,HEAD")),
        ("/signin", "PUT"): (405, {"detail": "Method Not Allowed"}, ("allow", "GET,HEAD,POST")),
        (f"{api}/namespaces/acme/pulls", "POST"): (
            405,
            {"detail": "Method Not Allowed"},
            ("allow", "GET,HEAD"),
        ),
        ("/v2/nope", "GET"): (404, {"detail": "Not Found"}, None),
        ("/v2/users/login", "GET"): (405, {"detail": "Method Not Allowed"}, ("allow", "POST")),
        (f"{api}/nope", "GET"): (404, {"detail": "Not Found"}, None),
        (f"{api}/", "GET"): (
            401,
            {"detail": "authentication required: send Authorization: Bearer <token>"},
            ("www-authenticate", "Bearer"),
        ),
        ("/ingest/v1/registry/events", "GET"): (405, {"detail": "Method Not Allowed"}, None),
        ("/ingest/nope", "GET"): (404, {"detail": "Not Found"}, None),
        ("/downloads/nope", "GET"): (404, {"detail": "Not Found"}, None),
        ("/healthz/nope", "GET"): (404, {"detail": "Not Found"}, None),
        ("/metrics/nope", "GET"): (404, {"detail": "Not Found"}, None),
        ("/openapi.json", "POST"): (405, {"detail": "Method Not Allowed"}, ("allow", "GET,HEAD")),
    }
    with httpx.Client(base_url=web.url, timeout=30) as client:
        for (path, method), (status, body, header) in cases.items():
            # a page's address answers a browser with the page, the API's never
            accepts = (
                ["*/*", "application/json"] if path in PAGES else ["*/*", BROWSER, "text/html"]
            )
            for accept in accepts:
                answer = client.request(method, path, headers={"Accept": accept})
                where = f"{method} {path} Accept: {accept}"
                assert answer.status_code == status, where
                assert answer.headers["content-type"] == "application/json", where
                assert answer.json() == body, where
                assert "content-security-policy" not in answer.headers, where
                if header is not None:  # Allow's methods come from a set: in any order
                    name, value = header
                    assert sorted(answer.headers[name].split(", ")) == value.split(","), where
        head = client.head("/v2/nope", headers={"Accept": BROWSER})
    assert head.status_code == 404 and head.content == b""
    assert head.headers["content-type"] == "application/json"


def test_a_namespace_not_yours_is_a_page(web: Web) -> None:
    with session_client(web, "alice") as client:
        answer = client.get("/?namespace=partner", headers={"Accept": BROWSER})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert 'href="/">Back to the overview</a>' in answer.text


def _watch(page: Any) -> tuple[list[str], list[tuple[str, int]]]:
    """What ``page`` will log to its console (a refused script or style says so there), and
    the status of each file it loads besides its documents."""
    console: list[str] = []
    files: list[tuple[str, int]] = []
    page.on("console", lambda message: console.append(message.text))

    def loaded(response: Any) -> None:
        if response.request.resource_type != "document":
            files.append((response.url, response.status))

    page.on("response", loaded)
    return console, files


def _nothing_refused(console: list[str], files: list[tuple[str, int]]) -> None:
    # the browser reports the 404 of the page itself, and nothing else
    assert [m for m in console if "status of 404" not in m] == [], console
    assert files and all(status == 200 for _, status in files), files


def test_a_mistyped_address_in_the_browser(web: Web, new_page: NewPage) -> None:
    """Signed out: the page says what happened, under the policy (no violation logged), and its
    sign-in link signs in and goes on to the overview."""
    page = new_page()
    console, files = _watch(page)
    response = page.goto("/exportz")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    assert NOT_FOUND in page.locator("main").inner_text()
    assert page.title() == "Page not found · pullstats"
    page.get_by_role("link", name="Sign in").click()
    page.wait_for_load_state()
    assert page.url == f"{web.url}/signin"
    alice = web.users["alice"]
    page.get_by_label("User name").fill(alice.name)
    page.get_by_label("Password or personal access token").fill(alice.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.url == f"{web.url}/"
    assert page.get_by_role("heading", name="Overview").is_visible()
    _nothing_refused(console, files)
    assert outside_requests(page) == []


def test_a_stale_link_when_signed_in(web: Web, session_page: SignedInPage) -> None:
    page = session_page("alice")
    console, files = _watch(page)
    response = page.goto("/account/nothing")
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    assert page.locator(".who").inner_text() == "alice"
    assert page.locator('[aria-current="page"]').count() == 0  # not the account page
    assert page.get_by_role("link", name="Sign in").count() == 0
    page.get_by_role("link", name="Back to the overview").click()
    page.wait_for_load_state()
    assert page.url == f"{web.url}/"
    assert page.get_by_role("heading", name="Overview").is_visible()
    _nothing_refused(console, files)
    assert outside_requests(page) == []
