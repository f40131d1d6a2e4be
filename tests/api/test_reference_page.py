"""The API reference at /docs renders in a real browser with every other host blocked.

Playwright drives Debian's chromium (``apt-get install chromium``), never a browser of its own.
Every request the page makes that is not to the test server is refused and recorded; the test
fails on any such request, on a Content-Security-Policy violation, and unless Swagger UI lists
the API's operations. ``PULLSTATS_SKIP_BROWSER=1`` skips it on a machine without chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server, launch_chromium, server_of_its_own

#: The policy the page is held to when the server sends none: scripts and styles from the
#: server only, no inline script, nothing loaded from anywhere else. Swagger UI's stylesheet
#: draws its icons as data: SVG images, hence img-src data:.
STRICT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module: both tests only read /docs and its files."""
    yield from server_of_its_own(tmp_path_factory, "reference")


@pytest.mark.e2e
def test_docs_render_with_every_other_host_blocked(browser: Any, server: Server) -> None:
    left: list[str] = []  # requests that tried to leave the machine
    policies: dict[str, str] = {}
    console: list[str] = []
    page = browser.new_page()

    def only_the_server(route: Any) -> None:
        url = route.request.url
        if not url.startswith(server.url + "/"):
            left.append(url)
            route.abort()
            return
        response = route.fetch()
        headers = dict(response.headers)
        if headers.get("content-type", "").startswith("text/html"):
            # the server's own policy where it sends one, else the strict one
            headers.setdefault("content-security-policy", STRICT_POLICY)
            policies[url] = headers["content-security-policy"]
        route.fulfill(response=response, headers=headers)

    page.route("**/*", only_the_server)
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.goto(f"{server.url}/docs")
    pulls = "/api/publisher/analytics/v1/namespaces/{namespace}/pulls"
    try:
        page.wait_for_selector(f'.opblock-summary-path[data-path="{pulls}"]', timeout=30_000)
    except Exception as error:  # playwright's TimeoutError: say what the page tried
        pytest.fail(f"the reference did not render ({error}); blocked: {left}; console: {console}")
    listed = page.eval_on_selector_all(
        ".opblock-summary-path", "nodes => nodes.map(n => n.dataset.path)"
    )
    # an operation opened shows its parameters (and the icons the stylesheet draws)
    page.click(f'.opblock-summary-path[data-path="{pulls}"]')
    page.wait_for_selector(".parameters-container .parameter__name", timeout=10_000)
    parameters = page.eval_on_selector_all(
        ".parameters .parameter__name", "nodes => nodes.map(n => n.firstChild.textContent)"
    )
    page.close()

    assert "/v2/users/login" in listed and "/ingest/v1/registry/events" in listed
    assert {"namespace", "timespan", "period", "group"} <= {p.strip() for p in parameters}
    assert left == []
    assert f"{server.url}/docs" in policies
    violations = [line for line in console if "Content Security Policy" in line]
    assert violations == []


@pytest.mark.e2e
def test_docs_assets_come_from_the_server(server: Server) -> None:
    with server.client() as client:
        page = client.get("/docs")
        script = client.get("/docs/swagger-ui-bundle.js")
        style = client.get("/docs/swagger-ui.css")
        start = client.get("/docs/init.js")
        missing = client.get("/docs/nothing.js")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
    assert "//" not in page.text.replace("http://www.w3.org", "")  # no other host named
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert start.status_code == 200 and "validatorUrl: null" in start.text
    assert missing.status_code == 404
