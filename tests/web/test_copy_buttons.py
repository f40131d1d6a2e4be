"""The Copy buttons (the overview's share link, a new token on the account page) are shown only
where they work: with the script, and a clipboard to write to. Without either (script off; plain
http on another name than localhost, where ``navigator.clipboard`` is undefined) the text is
there to select and copy by hand, and no dead button is shown.

Tess, made here, is a member of acme whose account gets tokens: no other test reads her.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import NewPage, Web, WebUser, outside_requests, sign_in

pytestmark = pytest.mark.xdist_group("web")

TESS = WebUser("tess", "tess walnut drizzle beacon", ("acme",))
#: as on plain http under a name other than localhost: a context that is not secure has no
#: ``navigator.clipboard``
NO_CLIPBOARD = "Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined });"


@pytest.fixture(scope="module")
def tess(web: Web) -> WebUser:
    return web.add_user(TESS)


def _page(new_page: NewPage, how: str) -> Any:
    if how == "no-script":
        return new_page(java_script_enabled=False)
    page = new_page()
    if how == "no-clipboard":
        page.context.add_init_script(NO_CLIPBOARD)
    return page


def _new_token(page: Any, user: WebUser, label: str) -> None:
    page.goto("/account#tokens")
    page.get_by_label("Label").fill(label)
    page.locator("#token-password").fill(user.password)
    page.get_by_role("button", name="Create token").click()
    page.wait_for_load_state()
    assert page.locator("#new-token").inner_text().startswith("pst_")


@pytest.mark.parametrize("how", ["script", "no-script", "no-clipboard"])
def test_copy_buttons_are_shown_only_where_they_copy(
    new_page: NewPage, tess: WebUser, how: str
) -> None:
    page = _page(new_page, how)
    sign_in(page, tess)
    assert page.locator("#share-url").is_visible()  # to copy by hand, always
    assert page.locator("#copy-share").is_visible() == (how == "script")
    _new_token(page, tess, f"copy-{how}")
    assert page.locator("#new-token").is_visible()
    assert page.locator("button[data-copy]").is_visible() == (how == "script")
    assert outside_requests(page) == []
