"""The exports page's download buttons (``/exports/files/…``) sign a link when they are clicked,
for the signed-in user's own files only: a page left open longer than a link lives
(``PULLSTATS_DOWNLOAD_LINK_LIFETIME``) still downloads.

The expiry test has a server of its own, over an installation built as the harness's
(``conftest._build``), whose links live 3 seconds: the package's server keeps the default 15
minutes, which its other tests' links must not outlive mid-test.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from concurrent.futures import Future

import httpx
import pytest

from tests.conftest import start_server
from tests.web.conftest import Web, _build, session_client
from tests.web.test_exports_page import _files

pytestmark = pytest.mark.xdist_group("web")

#: a link signed at t expires at int(t) + 3, so it is good for 2 seconds at least, and one
#: signed when the page was shown is certainly expired 4.5 seconds later
LIFETIME = 3
PAST_EXPIRY = 4.5
GZIP_MAGIC = b"\x1f\x8b"


@pytest.fixture(scope="module")
def short_links(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    root = tmp_path_factory.mktemp("short-links")
    users, days = _build(root / "data")
    env = {"PULLSTATS_DOWNLOAD_LINK_LIFETIME": f"PT{LIFETIME}S"}
    server = start_server(root / "data", root / "server.log", env)
    started: Future = Future()
    started.set_result(server)
    try:
        yield Web(started, root / "data", users, days)
    finally:
        server.stop()


def _buttons(client: httpx.Client) -> list[str]:
    page = client.get("/exports", params={"namespace": "acme", "year": "2020"})
    assert page.status_code == 200, page.text
    return [
        html.unescape(url)
        for url in re.findall(r'class="button download" href="([^"]+)"', page.text)
    ]


def test_a_button_downloads_after_the_links_of_its_page_expired(short_links: Web) -> None:
    with session_client(short_links, "alice") as client:
        buttons = _buttons(client)
        assert len(buttons) == 14  # 2020-W53 and December 2020: seven files each
        time.sleep(PAST_EXPIRY)  # the page left open past any link it could have embedded
        answer = client.get(buttons[0], follow_redirects=True)
    assert answer.status_code == 200, answer.text
    assert answer.content[:2] == GZIP_MAGIC
    assert [r.status_code for r in answer.history] == [303]
    assert answer.history[0].headers["cache-control"] == "no-store"


def test_only_the_users_own_files_are_signed(web: Web) -> None:
    acme = _files(web, "acme")[0]
    path = f"/exports/files/{acme.id}/{acme.file_name}"
    with session_client(web, "alice") as client:
        assert client.get(path).status_code == 303
        for wrong in (
            f"/exports/files/{acme.id}/other.csv.gz",  # another name: no such file
            f"/exports/files/{2**40}/{acme.file_name}",  # past any id
            f"/exports/files/x{acme.id}/{acme.file_name}",
        ):
            answer = client.get(wrong)
            assert answer.status_code == 404, wrong
            assert "location" not in answer.headers
    with session_client(web, "erin") as client:  # a member of partner, not acme
        answer = client.get(path)
    assert answer.status_code == 404 and "/downloads/" not in answer.text
    with httpx.Client(base_url=web.url) as client:  # signed out: sign in, then back here
        answer = client.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/signin?next=")
