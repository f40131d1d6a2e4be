"""The dashboard's layout on narrow screens, measured in a real browser: no page is wider than
the viewport (nothing scrolls sideways but the tables and snippets meant to), and the controls
keep their natural size.

Uses the harness of ``tests/web/conftest.py``, plus two users made here: ``lena`` (acme), whose
one personal access token has a label of the longest length the form takes (128 characters),
and ``cora``, of a namespace ``crowd`` with more repositories than the chart draws points for
(its rollups are written straight into the catalog: only their count matters here).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy.orm import Session

from pullstats.accounts import tokens
from pullstats.api.dashboard.charts import MAX_POINT_SERIES
from pullstats.db.models import PullRollup
from pullstats.periods import last_complete_months
from tests.web.conftest import (
    DESKTOP,
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
NARROW = {"width": 360, "height": 740}
CORA = WebUser("cora", "cora bramble lantern fjord", ("crowd",))
#: more than the chart draws points for: one column per period, whose tooltip is long
CROWD = [f"crowd/service-with-a-rather-long-name-{n:02d}" for n in range(MAX_POINT_SERIES + 2)]


@pytest.fixture(scope="module")
def lena(web: Web) -> WebUser:
    """LENA and her token, made once for this module."""

    def her_token(session: Session) -> None:
        LENA.pat = tokens.create_pat(session, LENA.name, LONG_LABEL).text

    return web.add_user(LENA, then=her_token)


@pytest.fixture(scope="module")
def cora(web: Web) -> WebUser:
    """CORA and her namespace of many repositories, made once for this module."""
    month = last_complete_months(datetime.now(UTC).date(), 1)[0]

    def her_repositories(session: Session) -> None:
        for n, name in enumerate(CROWD):
            session.add(
                PullRollup(
                    period_kind="month",
                    period_start=month,
                    level="repository",
                    namespace="crowd",
                    repository=name.partition("/")[2],
                    reference="",
                    pull_by_tag=1000 + n,
                    pull_by_digest=0,
                    version_check=0,
                    unique_ip_count=1,
                )
            )

    return web.add_user(CORA, new_namespaces=True, then=her_repositories)


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
    session_page: SignedInPage,
    viewport: dict[str, int],
    path: str,
    tmp_path: Path,
) -> None:
    page = session_page(lena.name, viewport=viewport, next_path=path)
    if path == "/account":
        assert page.get_by_role("row", name=LONG_LABEL).count() == 1
    assert _document_width(page) <= viewport["width"]
    screenshot(page, tmp_path, f"{path.strip('/').split('?')[0] or 'overview'}-{viewport['width']}")
    assert outside_requests(page) == []


@pytest.mark.parametrize("viewport", [NARROW, PHONE], ids=["360px", "375px"])
def test_a_column_tooltip_wraps_inside_the_screen(
    web: Web, cora: WebUser, session_page: SignedInPage, viewport: dict[str, int], tmp_path: Path
) -> None:
    repos = "&".join(f"repo={quote(name, safe='')}" for name in CROWD)
    page = session_page(cora.name, viewport=viewport, next_path=f"/?namespace=crowd&{repos}")
    columns = page.locator(".chart-points .col")
    assert columns.count() == 13  # 12 months and the current one
    tooltip = page.locator("#tooltip")
    for column in (columns.last, columns.first, columns.nth(6), columns.last):
        column.focus()
        label = column.get_attribute("aria-label")
        assert label and len(label) > 200  # five long names and their values
        assert tooltip.inner_text() == label
        box = tooltip.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
        assert box["height"] > 40, box  # wrapped onto several lines
        assert _document_width(page) <= viewport["width"]
    screenshot(page, tmp_path, f"column-tooltip-{viewport['width']}")
    assert outside_requests(page) == []


#: the boxes of the TOTP key (#totp-secret) and of the text before it on its line
_SECRET_BOXES = """() => {
  const code = document.getElementById("totp-secret");
  const range = document.createRange();
  range.setStart(code.parentElement, 0);
  range.setEndBefore(code);
  const box = (r) => ({left: r.left, top: r.top, right: r.right, bottom: r.bottom});
  return {
    code: Array.from(code.getClientRects()).map(box),
    text: Array.from(range.getClientRects()).map(box),
    paragraph: box(code.parentElement.getBoundingClientRect()),
  };
}"""


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0.5 and (
        min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.5
    )


@pytest.mark.parametrize("viewport", [NARROW, PHONE], ids=["360px", "375px"])
def test_the_totp_key_is_one_box_clear_of_the_text(
    lena: WebUser, signed_in_page: SignedInPage, viewport: dict[str, int], tmp_path: Path
) -> None:
    page = signed_in_page(lena.name, viewport=viewport, next_path="/account")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    page.wait_for_load_state()  # an enrolment only: two-factor stays off until confirmed
    boxes = page.evaluate(_SECRET_BOXES)
    assert len(boxes["code"]) == 1, boxes  # not split over two lines into two boxes
    code = boxes["code"][0]
    assert not any(_overlap(code, text) for text in boxes["text"]), boxes
    assert boxes["paragraph"]["left"] <= code["left"], boxes
    assert code["right"] <= boxes["paragraph"]["right"], boxes
    assert _document_width(page) <= viewport["width"]
    page.locator("#totp-secret").scroll_into_view_if_needed()
    screenshot(page, tmp_path, f"totp-key-{viewport['width']}")


def test_checkboxes_in_a_form_keep_their_size(
    lena: WebUser, session_page: SignedInPage, tmp_path: Path
) -> None:
    page = session_page(lena.name, viewport=NARROW, next_path="/account")
    scope = page.get_by_role("checkbox", name="analytics:read")
    box = scope.bounding_box()
    assert box is not None and box["width"] <= 24, box  # a checkbox, not a 264-px bar
    label = page.locator("#tokens fieldset label").first.bounding_box()
    assert label is not None and label["height"] < 40, label  # box and name on one line
    field = page.get_by_label("Label").bounding_box()
    assert field is not None and field["width"] > 200, field  # text fields still fill the form
    page.locator("#tokens fieldset").scroll_into_view_if_needed()
    screenshot(page, tmp_path, "token-scopes-360")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375px", "1280px"])
def test_the_scanners_and_bots_label_keeps_its_words_together(
    web: Web, session_page: SignedInPage, viewport: dict[str, int], tmp_path: Path
) -> None:
    page = session_page("alice", viewport=viewport)
    label = page.locator("label", has=page.locator("#exclude"))
    box = label.bounding_box()
    line = float(label.evaluate("(e) => parseFloat(getComputedStyle(e).lineHeight)"))
    assert box is not None
    # before, at 375 px, the hint beside it squeezed it to 72 px: five lines of one word
    assert box["height"] <= 2 * line + 1, box
    assert box["x"] + box["width"] <= viewport["width"], box
    screenshot(page, tmp_path, f"exclude-{viewport['width']}")
