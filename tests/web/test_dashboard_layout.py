"""The dashboard's layout on narrow screens, measured in a real browser: no page is wider than
the viewport (nothing scrolls sideways but the tables and snippets meant to), and the controls
keep their natural size.

Uses the harness of ``tests/web/conftest.py``, plus ``lena`` (acme), made here, whose one
personal access token has a label of the longest length the form takes (128 characters).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pullstats.accounts import service, tokens
from tests.web.conftest import (
    PHONE,
    SignedInPage,
    Web,
    WebUser,
    outside_requests,
    screenshot,
)

pytestmark = pytest.mark.xdist_group("web")

WIDE_PHONE = {"width": 414, "height": 896}
#: the longest label the token form takes (its input's maxlength), with no place to break
LONG_LABEL = "build-" + "x" * 122
LENA = WebUser("lena", "lena juniper shoal pewter", ("acme",))


@pytest.fixture(scope="module")
def lena(web: Web) -> WebUser:
    """LENA and her token, made once for this module."""
    if LENA.name not in web.users:
        runtime = web.runtime()
        try:
            with runtime.sessions.begin() as session:
                service.create_user(session, LENA.name, LENA.password)
                service.add_member(session, "acme", LENA.name, "member")
                LENA.pat = tokens.create_pat(session, LENA.name, LONG_LABEL).text
        finally:
            runtime.close()
        web.users[LENA.name] = LENA
    return LENA


def _document_width(page: Any) -> int:
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


@pytest.mark.parametrize("viewport", [PHONE, WIDE_PHONE], ids=["375px", "414px"])
@pytest.mark.parametrize(
    "path",
    ["/account", "/", "/exports?namespace=acme&year=all"],
    ids=["account", "overview", "exports"],
)
def test_no_page_is_wider_than_a_phone(
    web: Web,
    lena: WebUser,
    signed_in_page: SignedInPage,
    viewport: dict[str, int],
    path: str,
    tmp_path: Path,
) -> None:
    page = signed_in_page(lena.name, viewport=viewport, next_path=path)
    if path == "/account":
        assert page.get_by_role("row", name=LONG_LABEL).count() == 1
    assert _document_width(page) <= viewport["width"]
    screenshot(page, tmp_path, f"{path.strip('/').split('?')[0] or 'overview'}-{viewport['width']}")
    assert outside_requests(page) == []
