"""The account page's forms after they are sent: the answer opens at the form's card, a
refused new token keeps what was typed, two-factor set-up says when it is on already, and
tokens of one label can be told apart. (The page's own flows: test_account.py.)"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from pullstats.api.dashboard.account import ENROLMENT_COOKIE
from tests.web.conftest import (
    DESKTOP,
    PHONE,
    NewPage,
    Web,
    WebUser,
    screenshot,
    session_client,
    sign_in,
)

pytestmark = pytest.mark.xdist_group("web")

#: users of this module alone (each test changes its user's account)
CARDS_USER = WebUser("cato", "cato juniper basalt orbit", ("acme",))
KEPT_USER = WebUser("kemal", "kemal saddle prairie nickel", ("acme",))
ON_USER = WebUser("otto", "otto quartz meadow lantern", ("acme",))
TWINS_USER = WebUser("tilda", "tilda harbor violet sprocket", ("acme",))
VIEW_USER = WebUser("vesna", "vesna cobalt thimble willow", ("acme",))


class _Forms(HTMLParser):
    """The ids of the page's elements, and each form's action with the card it is in."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.forms: list[tuple[str, str | None]] = []  # (action, id of the enclosing card)
        self._sections: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if named.get("id"):
            self.ids.add(str(named["id"]))
        if tag == "section":
            self._sections.append(named.get("id"))
        elif tag == "form":
            card = self._sections[-1] if self._sections else None
            self.forms.append((str(named.get("action")), card))

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self._sections:
            self._sections.pop()


def _forms(html: str) -> _Forms:
    parser = _Forms()
    parser.feed(html)
    return parser


def _csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/account").text)
    assert found is not None
    return found.group(1)


def _new_token(client: httpx.Client, user: WebUser, label: str) -> str:
    """A token made through the page's form: its text, read from the page that shows it once."""
    made = client.post(
        "/account/tokens",
        data={
            "csrf_token": _csrf(client),
            "label": label,
            "scope:analytics:read": "1",
            "expires_days": "30",
            "password": user.password,
        },
    )
    assert made.status_code == 303, made.text
    shown = re.search(r'id="new-token">([^<]+)<', client.get("/account").text)
    assert shown is not None
    return shown.group(1)


def _enrol(client: httpx.Client, user: WebUser) -> str:
    """Two-factor authentication turned on through the page; the enrolment cookie it had."""
    started = client.post("/account/2fa/start", data={"csrf_token": _csrf(client)})
    assert started.status_code == 303
    cookie = client.cookies[ENROLMENT_COOKIE]
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', client.get("/account").text)
    assert secret is not None
    user.totp_secret = secret.group(1)
    form = {"csrf_token": _csrf(client), "password": user.password, "code": user.totp_code()}
    confirmed = client.post("/account/2fa/confirm", data=form)
    assert (confirmed.status_code, confirmed.headers["location"]) == (303, "/account?done=2fa-on")
    return cookie


def _alert(html: str) -> str:
    found = re.search(r'<p class="error" role="alert">([^<]*)</p>', html)
    assert found is not None, html[:3000]
    return found.group(1)


def _sets_cookie(answer: httpx.Response, name: str) -> list[str]:
    return [c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{name}=")]


def test_every_form_opens_its_answer_at_its_card(web: Web) -> None:
    """Browsers keep an action's fragment on the answer (a refusal, or the redirect after a
    change), so a form whose action names its card shows its outcome there, not off-screen."""
    user = web.add_user(CARDS_USER)
    actions: dict[str, str | None] = {}
    with session_client(web, user.name) as client:
        _new_token(client, user, "cards")  # a revoke form
        for step in ("off", "enrolling", "on"):
            page = _forms(client.get("/account").text)
            for action, card in page.forms:
                if action != "/signout":  # the header's, on every page
                    actions[action] = card
                    assert card in page.ids
            if step == "off":
                client.post("/account/2fa/start", data={"csrf_token": _csrf(client)})
            elif step == "enrolling":
                client.cookies.delete(ENROLMENT_COOKIE)
                _enrol(client, user)
    forms = {re.sub(r"/pst[^/]*|/[0-9a-f]{16}/", "/ID/", action) for action in actions}
    assert forms == {
        "/account/password#password",
        "/account/2fa/start#two-factor",
        "/account/2fa/confirm#two-factor",
        "/account/2fa/disable#two-factor",
        "/account/tokens#tokens",
        "/account/tokens/ID/revoke#tokens",
    }, actions
    for action, card in actions.items():
        assert action.endswith(f"#{card}"), (action, card)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "375px"])
def test_a_refusal_and_a_change_are_shown_in_view(
    web: Web, new_page: NewPage, viewport: dict[str, int]
) -> None:
    user = web.add_user(VIEW_USER)
    page = new_page(viewport)
    sign_in(page, user, next_path="/account")

    def in_view(role: str) -> None:
        shown = page.get_by_role(role)
        # the browser scrolls to the fragment as the page loads: on a loaded machine that can
        # come after the element is there, so wait for it to be wholly in view first
        expect(shown).to_be_in_viewport(ratio=1)
        box = shown.bounding_box()
        assert box is not None, page.content()[:2000]
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], (
            role,
            box,
            shown.inner_text(),
        )

    # one wrong password a viewport (ATTEMPTS_PER_ACCOUNT is 3)
    page.get_by_label("Label").fill("in-view")
    page.locator("#token-password").fill("not the password")
    page.get_by_role("button", name="Create token").click()
    assert page.get_by_role("alert").inner_text() == "The current password is wrong."
    in_view("alert")
    assert page.get_by_label("Label").input_value() == "in-view"  # kept, to send again

    # the redirect after a change keeps the fragment too: what was done is shown in view
    page.locator("#token-password").fill(user.password)
    page.get_by_role("button", name="Create token").click()
    page.locator("#new-token").wait_for()
    page.locator("tr", has_text="in-view").get_by_role("button", name="Revoke in-view").click()
    assert page.url.endswith("/account?done=revoked#tokens"), page.url
    assert page.get_by_role("status").inner_text().startswith("The token is revoked")
    in_view("status")

    # two-factor set-up with a wrong code: the card is below the password's on a phone
    page.get_by_role("button", name="Set up two-factor authentication").click()
    page.locator("#enrol-password").fill(user.password)
    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    assert page.get_by_role("alert").inner_text().startswith("That code does not match")
    in_view("alert")


def test_a_refused_token_form_keeps_what_was_typed_but_the_password(web: Web) -> None:
    user = web.add_user(KEPT_USER)
    sent = {"label": "release-pipeline", "expires_days": "365", "scope:analytics:read": "1"}
    with session_client(web, user.name) as client:
        wrong = client.post(
            "/account/tokens",
            data={**sent, "csrf_token": _csrf(client), "password": "kemal wrong guess here"},
        )
        no_scope = client.post(
            "/account/tokens",
            data={"label": "no-scope", "expires_days": "", "csrf_token": _csrf(client)},
        )
        bad_lifetime = client.post(
            "/account/tokens", data={**sent, "expires_days": "7", "csrf_token": _csrf(client)}
        )
        fresh = client.get("/account").text
    assert wrong.status_code == 400
    assert _alert(wrong.text) == "The current password is wrong."
    assert 'value="release-pipeline"' in wrong.text
    assert '<option value="365" selected>' in wrong.text
    assert re.search(r'name="scope:analytics:read" value="1" checked', wrong.text)
    assert "kemal wrong guess here" not in wrong.text  # never the password
    assert len(re.findall(r"<option [^>]*selected", wrong.text)) == 1

    assert (no_scope.status_code, _alert(no_scope.text)) == (400, "Pick at least one scope.")
    assert 'value="no-scope"' in no_scope.text
    assert '<option value="" selected>' in no_scope.text  # "Never", as it was sent
    assert not re.search(r'name="scope:analytics:read" value="1" checked', no_scope.text)

    assert _alert(bad_lifetime.text) == "Pick a lifetime from the list."
    assert '<option value="90" selected>' in bad_lifetime.text  # not on the list: the default

    # a page not answering a refusal is as it always was: nothing typed, 90 days, every scope
    assert "release-pipeline" not in fresh and '<option value="90" selected>' in fresh
    assert re.search(r'name="scope:analytics:read" value="1" checked', fresh)


def test_two_factor_set_up_again_while_it_is_on(web: Web) -> None:
    user = web.add_user(ON_USER)
    with session_client(web, user.name) as client:
        cookie = _enrol(client, user)
        assert ENROLMENT_COOKIE not in client.cookies  # deleted by the confirmation

        # the confirmation sent again (back and resubmit, or a second tab): nothing to start
        again = client.post(
            "/account/2fa/confirm",
            data={"csrf_token": _csrf(client), "password": user.password, "code": "123456"},
        )
        assert again.status_code == 400
        assert _alert(again.text) == "Two-factor authentication is already on."
        assert _sets_cookie(again, ENROLMENT_COOKIE) == []

        # ... with an enrolment cookie still sent: the same words, and the cookie goes
        host = httpx.URL(web.url).host
        client.cookies.set(ENROLMENT_COOKIE, cookie, domain=host, path="/account")
        stale = client.post(
            "/account/2fa/confirm",
            data={"csrf_token": _csrf(client), "password": user.password, "code": "123456"},
        )
        assert stale.status_code == 400
        assert _alert(stale.text) == "Two-factor authentication is already on."
        assert [c.split(";")[0] for c in _sets_cookie(stale, ENROLMENT_COOKIE)] == [
            f'{ENROLMENT_COOKIE}=""'
        ]
        assert ENROLMENT_COOKIE not in client.cookies

        # set-up started while it is on: refused, no enrolment waits for it to be turned off
        start = client.post("/account/2fa/start", data={"csrf_token": _csrf(client)})
        assert start.status_code == 400
        assert _alert(start.text) == "Two-factor authentication is already on."
        assert _sets_cookie(start, ENROLMENT_COOKIE) == []
        assert 'action="/account/2fa/disable#two-factor"' in start.text

        off = client.post(
            "/account/2fa/disable",
            data={"csrf_token": _csrf(client), "password": user.password, "code": user.totp_code()},
        )
        assert off.headers.get("location") == "/account?done=2fa-off", off.text
        user.totp_secret = None
        page = client.get("/account").text
    assert "figure" not in page and "totp-secret" not in page  # no QR code nobody asked for
    assert "Set up two-factor authentication" in page


def test_tokens_of_one_label_are_told_apart(web: Web, new_page: NewPage, tmp_path: Path) -> None:
    user = web.add_user(TWINS_USER)
    with session_client(web, user.name) as client:
        made = [_new_token(client, user, "ci") for _ in range(2)]
        html = client.get("/account").text
    ids = [token.split("_")[1] for token in made]
    rows = re.findall(r'<tr data-token="([0-9a-f]+)">(.*?)</tr>', html, re.DOTALL)
    assert [token_id for token_id, _ in rows] == ids
    assert rows[0][1] != rows[1][1]  # the rows differ, not only their hidden data-token
    for (token_id, row), token in zip(rows, made, strict=True):
        assert f"<code>pst_{token_id}_…</code>" in row  # how the user's copy starts
        assert token.split("_", 2)[2] not in html  # never the secret
    labels = re.findall(r'aria-label="(Revoke [^"]*)"', html)
    assert labels == [f"Revoke ci (pst_{token_id}_…)" for token_id in ids]

    # in the browser: one button of each name, each in its token's row
    page = new_page()
    sign_in(page, user, next_path="/account")
    for token_id in ids:
        button = page.get_by_role("button", name=f"Revoke ci (pst_{token_id}_…)", exact=True)
        assert button.count() == 1
        row = page.locator(f'tr[data-token="{token_id}"]')
        assert row.get_by_role("button").count() == 1
        assert row.locator("code").inner_text() == f"pst_{token_id}_…"
    screenshot(page, tmp_path, "account-twin-tokens")
    page.get_by_role("button", name=f"Revoke ci (pst_{ids[0]}_…)").click()
    assert page.locator(f'tr[data-token="{ids[0]}"] td').nth(4).inner_text() == "revoked"
    assert page.locator(f'tr[data-token="{ids[1]}"] td').nth(4).inner_text() == "active"
