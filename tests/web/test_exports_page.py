"""The exports page in a real browser: what it lists, its downloads, and who sees what."""

from __future__ import annotations

import gzip
import html
import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from pullstats.db.models import ExportFile
from pullstats.exports.views import Dataview
from pullstats.periods import PeriodKind, period_of
from tests.conftest import catalog_settings
from tests.web.conftest import (
    PHONE,
    SignedInPage,
    Web,
    outside_requests,
    screenshot,
    session_client,
)

pytestmark = pytest.mark.xdist_group("web")

API = "/api/publisher/analytics/v1"


def _files(web: Web, namespace: str) -> list[ExportFile]:
    runtime = web.runtime()
    try:
        with runtime.sessions() as session:
            return list(session.query(ExportFile).filter(ExportFile.namespace == namespace))
    finally:
        runtime.close()


def _on_disk(web: Web, entry: ExportFile) -> Path:
    store = catalog_settings(web.data_dir).exports_store  # settings only: no connection to close
    path = store.local_path(entry.path)
    assert path is not None
    return path


def test_the_page_lists_every_exported_period_newest_first(
    web: Web, session_page: SignedInPage, tmp_path: Path
) -> None:
    page = session_page("alice", next_path="/exports?namespace=acme&year=all")
    headings = page.locator("section.period h2").all_inner_texts()
    last_month = period_of(PeriodKind.MONTH, web.days["last_month"])
    last_month_weeks = [
        f"Week {period_of(PeriodKind.WEEK, web.days['last_month']).number} of "
        f"{period_of(PeriodKind.WEEK, web.days['last_month']).year}"
    ]
    # hand-worked: pulls on 2020-12-28 (2020-W53, December 2020), on 2021-01-02 (2020-W53,
    # January 2021), on the first of last month (its week and month) and today (not closed);
    # newest first is by the period's first day
    expected = [
        last_month.start.strftime("%B %Y"),
        *last_month_weeks,
        "January 2021",
        "Week 53 of 2020",  # starts on 2020-12-28, after December
        "December 2020",
    ]
    assert headings == expected
    # each period: the four views and Docker's Summary report, one part each, sizes as the
    # catalog has them
    first = page.locator("section.period").first
    views = first.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.view)")
    reports = ["summary-report", "trends-report", "co-usage-report"]
    assert views == [*(view.value for view in Dataview), *reports]
    assert first.locator("a.download").count() == 7
    assert (
        page.get_by_label("Namespace", exact=True).input_value() == "acme"
    )  # alice has two: a picker
    screenshot(page, tmp_path, "exports-desktop")
    assert outside_requests(page) == []


def test_the_year_filter_keeps_that_year_only(web: Web, session_page: SignedInPage) -> None:
    page = session_page("alice", next_path="/exports?namespace=acme")
    # by default the newest year only: a year of weeks and months is 256 links already
    newest = period_of(PeriodKind.MONTH, web.days["last_month"])
    assert page.get_by_label("Year").input_value() == str(newest.year)
    shown = page.locator("section.period h2").all_inner_texts()
    assert shown and all(label.endswith(str(newest.year)) for label in shown)
    page.get_by_label("Year").select_option("2020")  # sent by dashboard.js on change
    page.wait_for_url("**/exports?namespace=acme&year=2020")
    assert page.locator("section.period h2").all_inner_texts() == [
        "Week 53 of 2020",
        "December 2020",
    ]


def test_a_downloaded_csv_is_the_file_on_disk(
    web: Web, session_page: SignedInPage, tmp_path: Path
) -> None:
    page = session_page("alice", next_path="/exports?namespace=acme&year=2020")
    row = page.locator("section.period", has_text="Week 53 of 2020").locator('tr[data-view="raw"]')
    with page.expect_download() as download_info:
        row.get_by_role("link").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert download.suggested_filename == "acme_raw_2020-W53_part001.csv.gz"
    (entry,) = [
        f
        for f in _files(web, "acme")
        if f.view == "raw" and f.period_kind == "week" and f.period_start.year == 2020
    ]
    assert saved.read_bytes() == _on_disk(web, entry).read_bytes()
    lines = gzip.decompress(saved.read_bytes()).decode().splitlines()
    assert len(lines) == 3  # the header and the two pulls of acme/api in that week
    assert all(",acme,api," in line for line in lines[1:])
    assert outside_requests(page) == []


def test_the_links_are_the_api_dataview_links(web: Web) -> None:
    with session_client(web, "alice") as client:
        page = client.get("/exports", params={"namespace": "acme", "year": "2020"})
        token = httpx.post(
            f"{web.url}/v2/users/login",
            json={"username": "alice", "password": web.users["alice"].password},
        ).json()["token"]
        api = client.get(
            f"{API}/namespaces/acme/pulls/exports/years/2020/weeks/53/summary",
            headers={"Authorization": f"Bearer {token}"},
        ).json()["data"]
        # the page's buttons sign a link when clicked (a 303 to it): the dataview route's
        shown = re.findall(r'href="(/exports/files/[^"]+)"', page.text)
        summary = [
            client.get(url).headers["location"] for url in shown if "_summary_2020-W53_" in url
        ]
    assert summary and all(url.startswith(f"{web.url}/downloads/") for url in summary)
    assert [urlsplit(u).path for u in summary] == [urlsplit(d["url"]).path for d in api]


@pytest.mark.parametrize(
    ("user", "namespace", "readable"),
    [
        ("alice", "acme", True),
        ("alice", "beta", True),
        ("alice", "partner", False),  # acme reads one of its repositories, not the namespace
        ("bob", "acme", False),
        ("bob", "beta", False),
        ("dave", "beta", True),
        ("dave", "acme", False),
        ("erin", "partner", True),
        ("erin", "acme", False),
        ("erin", "nobody", False),
    ],
)
def test_nobody_sees_another_namespaces_exports(
    web: Web, user: str, namespace: str, readable: bool
) -> None:
    own = set(web.users[user].namespaces)
    with session_client(web, user) as client:
        answer = client.get("/exports", params={"namespace": namespace})
        default = client.get("/exports")
    names = set(re.findall(r"/exports/files/\d+/([a-z0-9-]+)_", answer.text + default.text))
    assert names <= own  # no link to a file of a namespace the user is not a member of
    if readable:
        assert answer.status_code == 200 and f"Exports of {namespace}" in answer.text
        assert names >= {namespace}
    else:
        assert answer.status_code == 404
        assert "No such namespace among yours." in answer.text
    assert default.status_code == 200


def test_no_namespace_explains_what_to_do(web: Web, session_page: SignedInPage) -> None:
    page = session_page("bob", next_path="/exports")
    assert "not a member of any namespace" in page.locator("main").inner_text()
    assert page.locator("a.download").count() == 0


def test_a_bad_year_is_a_clear_400(web: Web) -> None:
    with session_client(web, "alice") as client:
        answer = client.get("/exports", params={"year": "twenty"})
        zero = client.get("/exports", params={"year": "0000"})  # was "No exports in 0." (200)
        empty = client.get("/exports", params={"namespace": "acme", "year": "1999"})
    assert answer.status_code == 400 and "is not a year: pick one from the list" in answer.text
    assert zero.status_code == 400 and "0000&#39; is not a year" in zero.text
    assert empty.status_code == 200 and "No exports in 1999." in empty.text


def test_a_year_without_exports_is_the_one_selected(session_page: SignedInPage) -> None:
    """A valid year with no exports says so, and the Year select shows that year, not "All
    years" (which it used to, beside "No exports in 2024.")."""
    page = session_page("alice", next_path="/exports?namespace=acme&year=2024")
    assert "No exports in 2024." in page.locator("main").inner_text()
    assert page.get_by_label("Year").input_value() == "2024"
    options = page.locator("#year option").evaluate_all("os => os.map(o => o.value)")
    assert options[0] == "all" and "2024" in options and "2020" in options
    years = [int(option) for option in options[1:]]
    assert years == sorted(set(years), reverse=True)  # newest first, each once


@pytest.mark.parametrize(
    ("query", "message", "overview"),
    [
        ([("nope", "1")], "unknown parameter 'nope'", True),
        ([("namespace", "acme"), ("namespace", "beta")], "namespace given 2 times", True),
        ([("namespace", "acme"), ("year", "2020"), ("year", "2021")], "year given 2 times", False),
    ],
)
def test_unknown_or_repeated_parameters_are_a_clear_400(
    web: Web, query: list[tuple[str, str]], message: str, overview: bool
) -> None:
    """As on the overview (``/``), whose checks the page shares: a link that says two things
    is refused, never read as one of them."""
    with session_client(web, "alice") as client:
        answer = client.get("/exports", params=query)
        elsewhere = client.get("/", params=query)
    assert answer.status_code == 400 and message in html.unescape(answer.text)
    assert "/exports/files/" not in answer.text  # no period shown
    if overview:  # the same answer, in the same words
        assert elsewhere.status_code == 400 and message in html.unescape(elsewhere.text)


def test_the_page_works_on_a_phone(web: Web, session_page: SignedInPage, tmp_path: Path) -> None:
    page = session_page("dave", viewport=PHONE, next_path="/exports")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing wider than the screen: no sideways scrolling
    for button in page.locator("a.download").all()[:4]:
        box = button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]  # on the screen
    screenshot(page, tmp_path, "exports-phone")
