"""The browser-test harness of the dashboard: one real server, one Chromium, known users.

Every module of ``tests/web`` marks itself ``pytest.mark.xdist_group("web")``, so under
pytest-xdist all of them run on one worker, one after another, and share the package-scoped
fixtures below: one ``pullstats serve`` over a data dir with processed and exported data
(:func:`web`), and one headless Chromium (Debian's, ``/usr/bin/chromium``; never
``playwright install``).

The installation (:data:`USERS`): namespaces ``acme`` (repositories ``api`` and
``tools/cli``, and ``partner/shared`` as an extra repo), ``beta`` (``web``) and ``partner``
(``shared``, ``private``); pulls in ISO week 2020-W53, in the last complete month and today.
Users, all made through the account service: ``alice`` (member of acme and beta), ``bob``
(member of nothing), ``carol`` (acme, TOTP on), ``dave`` (beta, a personal access token),
``erin`` (partner), ``trent`` (acme), whose account the throttling test locks, ``frank``
(acme) and ``grace`` (beta), whose accounts the account-page tests change, and ``oscar``
(acme), whose account the account page's throttling test locks, and ``mallory`` (member of
nothing), whose password the wrong-password test gets wrong: every failed sign-in counts
towards an account's lock (``ATTEMPTS_PER_ACCOUNT``), so a test that fails on purpose never
does it as a user that another test signs in as (three failures as ``bob`` locked bob out of
the accessibility tests that ran after them, in that order).

``signed_in_page(user)`` signs in through the real ``/signin`` form (and its TOTP step for
``carol``) in a fresh browser context and returns the page on ``/``; ``session_page(user)``
returns a new page of a context that signed in through the same form once for the module,
for tests that only read pages (cheaper: no form, no redirect each time). Every page records
the requests it tried to send to any other origin (:func:`outside_requests`), which are
refused.
``PULLSTATS_SKIP_BROWSER=1`` skips the tests that need the browser.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from weakref import WeakKeyDictionary

import httpx
import pyotp
import pytest
from sqlalchemy.orm import Session

from pullstats.accounts import service, tokens, totp
from pullstats.exports.closing import export_closed
from pullstats.ingest.records import PullRequestRecord
from pullstats.periods import last_complete_months
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import (
    Server,
    catalog_settings,
    fresh_runtime,
    launch_chromium,
    start_server,
    write_spool,
)

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}

#: user → (namespaces, password); every password is long and unguessable enough for the policy
USERS: dict[str, tuple[tuple[str, ...], str]] = {
    "alice": (("acme", "beta"), "alice correct horse battery"),
    "bob": ((), "bob staple lantern quarry"),
    "carol": (("acme",), "carol violet anchor meadow"),
    "dave": (("beta",), "dave copper thistle harbour"),
    "erin": (("partner",), "erin pebble orchard velvet"),
    "trent": (("acme",), "trent saffron glacier hollow"),
    "frank": (("acme",), "frank mosaic tundra lilac"),
    "grace": (("beta",), "grace ember falcon ripple"),
    "oscar": (("acme",), "oscar lagoon pepper ribbon"),
    "mallory": ((), "mallory quiver saddle drizzle"),
}
#: failed logins allowed per account on the test server: the throttling test reaches it fast
ATTEMPTS_PER_ACCOUNT = 3


@dataclass
class WebUser:
    name: str
    password: str
    namespaces: tuple[str, ...]
    #: the TOTP secret, when the user has TOTP on
    totp_secret: str | None = None
    #: a personal access token, when the user has one
    pat: str | None = None
    #: the newest TOTP time step a code was made for: each code is accepted once
    last_step: int = -1

    def totp_code(self) -> str:
        """A code the server has not seen yet (waiting for the next 30-second step if the
        current ones are spent: a TOTP code is accepted once)."""
        assert self.totp_secret is not None, f"{self.name} has no TOTP"
        generator = pyotp.TOTP(self.totp_secret)
        while True:
            now = datetime.now(UTC)
            step = generator.timecode(now)
            # the server accepts the neighbouring steps too (accounts/totp.py VALID_WINDOW):
            # step - 1 only until the step ends, so it is handed out only while half the step
            # is left (a loaded machine once checked it after the boundary); step and step + 1
            # stay valid across one boundary. Oldest first: three codes a step, not two.
            left = generator.interval - now.timestamp() % generator.interval
            oldest = step - 1 if left >= generator.interval / 2 else step
            for candidate in range(oldest, step + 2):
                if candidate > self.last_step:
                    self.last_step = candidate
                    return generator.generate_otp(candidate)
            time.sleep(1)


@dataclass
class Web:
    #: the server, starting in a thread while the browser launches (see :func:`web`)
    starting: Future[Server]
    data_dir: Path
    users: dict[str, WebUser]
    #: the days the pulls were made on
    days: dict[str, date] = field(default_factory=dict)

    @property
    def server(self) -> Server:
        """The server, once its ``/healthz`` answers (its start's error, if it failed)."""
        return self.starting.result()

    @property
    def url(self) -> str:
        return self.server.url

    def runtime(self) -> Runtime:
        """A runtime on the server's installation (close it), to read what the pages show."""
        return Runtime.open(catalog_settings(self.data_dir))

    def add_user(
        self,
        user: WebUser,
        *,
        new_namespaces: bool = False,
        then: Callable[[Session], object] | None = None,
    ) -> WebUser:
        """``user``, made once in the server's catalog for the module that needs them (not in
        the harness: no other test reads them): a member of their namespaces, made first when
        ``new_namespaces``; ``then`` adds what else the module needs, in the same transaction."""
        if user.name not in self.users:
            runtime = self.runtime()
            try:
                with runtime.sessions.begin() as session:
                    for namespace in user.namespaces if new_namespaces else ():
                        service.create_namespace(session, namespace)
                    service.create_user(session, user.name, user.password)
                    for namespace in user.namespaces:
                        service.add_member(session, namespace, user.name, "member")
                    if then is not None:
                        then(session)
            finally:
                runtime.close()
            self.users[user.name] = user
        return user


def _pull(n: int, when: datetime, name: str, ip: str, tag: str = "1.0") -> PullRequestRecord:
    return PullRequestRecord(
        f"w{n}",
        micros(when),
        "GET",
        name,
        tag,
        f"sha256:{n:064x}",
        ip,
        "docker/27.3.1",
        "notification",
        now_micros(),
    )


def _build(data_dir: Path) -> tuple[dict[str, WebUser], dict[str, date]]:
    runtime = fresh_runtime(catalog_settings(data_dir))
    users = {name: WebUser(name, password, spaces) for name, (spaces, password) in USERS.items()}
    try:
        with runtime.sessions.begin() as session:
            for namespace in ("acme", "beta", "partner"):
                service.create_namespace(session, namespace)
            for user in users.values():
                service.create_user(session, user.name, user.password)
                for namespace in user.namespaces:
                    service.add_member(session, namespace, user.name, "member")
            service.add_extra_repo(session, "acme", "partner/shared")
            uri = totp.enable_totp(session, "carol")
            users["carol"].totp_secret = pyotp.parse_uri(uri).secret
            users["dave"].pat = tokens.create_pat(session, "dave", "laptop").text
        today = datetime.now(UTC).date()
        last_month = last_complete_months(today, 1)[0]
        days = {"w53": date(2020, 12, 28), "last_month": last_month, "today": today}
        at = {key: datetime.combine(day, datetime.min.time(), UTC) for key, day in days.items()}
        records = [
            _pull(1, at["w53"] + timedelta(hours=12), "acme/api", "192.0.2.1"),
            _pull(2, at["w53"] + timedelta(days=5), "acme/api", "192.0.2.2"),  # 2021-01-02
            # from a cloud each (enrich/bundled.py knows both): the breakdowns have values
            _pull(3, at["last_month"] + timedelta(hours=1), "acme/api", "52.94.7.24"),  # AWS, US
            _pull(
                4, at["last_month"] + timedelta(hours=2), "acme/tools/cli", "5.9.1.1"
            ),  # Hetzner, DE
            _pull(5, at["last_month"] + timedelta(hours=3), "beta/web", "192.0.2.5", "2.0"),
            _pull(6, at["last_month"] + timedelta(hours=4), "beta/web", "192.0.2.6", "2.1"),
            _pull(7, at["last_month"] + timedelta(hours=5), "partner/shared", "192.0.2.7"),
            _pull(8, at["last_month"] + timedelta(hours=6), "partner/private", "192.0.2.8"),
            _pull(9, at["today"], "acme/api", "192.0.2.9"),
        ]
        write_spool(runtime, *records)
        process(runtime)
        export_closed(runtime, now=end_of_day(today))
    finally:
        runtime.close()
    return users, days


@pytest.fixture(scope="package")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """The dashboard's server over the installation above, for the whole session.

    The server starts in a thread (``start_server`` waits for its ``/healthz``), so that the
    package's browser launches while it boots; ``web.server`` and ``web.url`` wait for it."""
    root = tmp_path_factory.mktemp("web")
    data_dir = root / "data"
    users, days = _build(data_dir)  # its catalog made here, in the fixture, as before
    env = {"PULLSTATS_LOGIN_ATTEMPTS_PER_ACCOUNT": str(ATTEMPTS_PER_ACCOUNT)}
    with ThreadPoolExecutor(max_workers=1) as pool:
        starting = pool.submit(start_server, data_dir, root / "server.log", env)
        try:
            yield Web(starting, data_dir, users, days)
        finally:
            starting.result().stop()


#: package-scoped, not session-scoped: Playwright's sync API keeps an event loop running in the
#: worker while it is open, and every later test of the worker that calls ``asyncio.run`` would
#: fail ("cannot be called from a running event loop"); the "web" group's tests run one after
#: another, so the browser closes when the worker leaves ``tests/web``
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


_OUTSIDE: WeakKeyDictionary[Any, list[str]] = WeakKeyDictionary()


def outside_requests(page: Any) -> list[str]:
    """The URLs ``page`` tried to request from any origin but the server's (all refused)."""
    return _OUTSIDE[page]


#: makes a page in a fresh context (its own cookies): ``new_page(width=…)``
NewPage = Callable[..., Any]
SignedInPage = Callable[..., Any]


def _watched_page(web: Web, context: Any) -> Any:
    """A new page of ``context`` whose requests to any other origin are refused and recorded
    (:func:`outside_requests`)."""
    page = context.new_page()
    left: list[str] = []
    _OUTSIDE[page] = left

    def only_the_server(route: Any) -> None:
        url = route.request.url
        if url == web.url or url.startswith(web.url + "/") or url.startswith("data:"):
            route.continue_()
        else:
            left.append(url)
            route.abort()

    page.route("**/*", only_the_server)
    return page


@pytest.fixture
def new_page(web: Web, browser: Any) -> Iterator[NewPage]:
    """A factory of pages, each in a context of its own, closed when the test ends."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] = DESKTOP, **options: Any) -> Any:
        context = browser.new_context(viewport=viewport, base_url=web.url, **options)
        contexts.append(context)
        return _watched_page(web, context)

    yield make
    for context in contexts:
        context.close()


def sign_in(
    page: Any, user: WebUser, secret: str | None = None, next_path: str | None = None
) -> None:
    """Sign ``user`` in through the real form (and the TOTP step when the user has one): the
    form the page is on, or ``/signin?next=NEXT_PATH`` (default ``/``)."""
    if next_path is not None or "/signin" not in page.url:
        page.goto(f"/signin?next={quote(next_path or '/', safe='')}")
    page.get_by_label("User name").fill(user.name)
    page.get_by_label("Password or personal access token").fill(secret or user.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if user.totp_secret is not None and secret is None:
        page.get_by_label("Authentication code").fill(user.totp_code())
        page.get_by_role("button", name="Verify").click()
        page.wait_for_load_state()


@pytest.fixture
def signed_in_page(web: Web, new_page: NewPage) -> SignedInPage:
    """``signed_in_page("alice", viewport=PHONE)``: a page of a fresh context with a session,
    on ``/`` (or ``next_path``)."""

    def make(user: str, viewport: dict[str, int] = DESKTOP, next_path: str = "/") -> Any:
        page = new_page(viewport)
        sign_in(page, web.users[user], next_path=next_path)
        assert page.url.startswith(web.url), page.url
        assert "/signin" not in page.url, f"{user} did not get in: {page.content()[:2000]}"
        return page

    return make


@pytest.fixture(scope="module")
def _module_sessions(web: Web, browser: Any) -> Iterator[dict[str, Any]]:
    """user → a browser context signed in as that user, made by :func:`session_page` the first
    time a test of the module asks for the user, closed when the module ends."""
    contexts: dict[str, Any] = {}
    yield contexts
    for context in contexts.values():
        context.close()


@pytest.fixture
def session_page(
    web: Web, browser: Any, _module_sessions: dict[str, Any]
) -> Iterator[SignedInPage]:
    """``session_page("alice", viewport=PHONE, next_path="/account")``: a new page on
    ``next_path`` (default ``/``) at ``viewport``, in a context that signed in as the user
    through the real ``/signin`` form once for the whole module (as :func:`signed_in_page`
    does), closed when the test ends.

    Signing in is what costs (a form, a redirect and the overview, each time); a page of the
    same context is cheap. Only for tests that read what the pages show: the context's cookie
    and session are shared by the module's tests, so a test that signs out, changes cookies,
    the password or anything the session hangs on takes :func:`signed_in_page` (a context of
    its own) instead."""
    pages: list[Any] = []

    def make(user: str, viewport: dict[str, int] = DESKTOP, next_path: str = "/") -> Any:
        context = _module_sessions.get(user)
        if context is None:
            context = browser.new_context(viewport=DESKTOP, base_url=web.url)
            _module_sessions[user] = context
            first = _watched_page(web, context)
            sign_in(first, web.users[user])
            assert "/signin" not in first.url, f"{user} did not get in: {first.content()[:2000]}"
            assert outside_requests(first) == []
            first.close()
        page = _watched_page(web, context)
        pages.append(page)
        page.set_viewport_size(viewport)
        page.goto(next_path)
        assert page.url.startswith(web.url), page.url
        assert "/signin" not in page.url, f"{user}'s session ended: {page.content()[:2000]}"
        return page

    yield make
    for page in pages:
        page.close()


def screenshot(page: Any, folder: Path, name: str) -> Path:
    """A full-page screenshot saved into ``folder`` (a test's tmp_path)."""
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@contextmanager
def session_client(web: Web, user: str, origin: str | None = None) -> Iterator[httpx.Client]:
    """An HTTP client holding ``user``'s session cookie, signed in through ``POST /signin``
    (users without TOTP), sending ``Origin: origin`` (default: the server's own)."""
    client = httpx.Client(base_url=web.url, timeout=30, headers={"Origin": origin or web.url})
    account = web.users[user]
    answer = client.post("/signin", data={"username": user, "secret": account.password})
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
    try:
        yield client
    finally:
        client.close()
