"""The API caches the export catalog per exports epoch (api/export_catalog.py): an export
written by another writer is listed on the server's very next request, a replaced file's link
stops working, and nothing stale is served. On SQLite and on PostgreSQL, where triggers of
migration 0010 bump the epoch."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import text

from pullstats.api.cache import export_listing
from pullstats.exports.closing import export_closed
from pullstats.ingest.records import PullRequestRecord
from pullstats.periods import Period
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.accounts.conftest import Api, seed_user
from tests.conftest import write_spool

EXPORTS = "/api/publisher/analytics/v1/namespaces/acme/pulls/exports"
WEEK_2, WEEK_3 = Period.week(2026, 2), Period.week(2026, 3)  # 2026-01-05.., 2026-01-12..


def _pull(event_id: str, day: Period, ip: str) -> PullRequestRecord:
    instant = datetime.combine(day.start, datetime.min.time(), UTC) + timedelta(hours=9)
    return PullRequestRecord(
        event_id,
        micros(instant),
        "GET",
        "acme/api",
        "1.0",
        "sha256:ab",
        ip,
        "docker/27.3.1",
        "notification",
        now_micros(),
    )


def _export(runtime: Runtime, through: Period, *records: PullRequestRecord) -> None:
    """What ``pullstats process`` and ``pullstats export`` do in another process."""
    write_spool(runtime, *records)
    process(runtime)
    export_closed(runtime, now=end_of_day(through.end + timedelta(days=1)))


def _exports_epoch(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        value = session.scalar(text("SELECT value FROM pipeline_state WHERE key = 'exports_epoch'"))
    return int(value)


def _weeks(client: httpx.Client) -> list[int]:
    response = client.get(f"{EXPORTS}/years/2026/weeks")
    assert response.status_code == 200, response.text
    return [week["week"] for week in response.json()["weeks"]]


def _raw_link(client: httpx.Client, week: int) -> str:
    response = client.get(f"{EXPORTS}/years/2026/weeks/{week}/raw")
    assert response.status_code == 200, response.text
    (part,) = response.json()["data"]
    return str(part["url"])


def _download(client: httpx.Client, url: str) -> httpx.Response:
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}")


def test_an_export_written_elsewhere_is_listed_on_the_next_request(
    accounts_runtime: Runtime, start_api: Callable[..., Api]
) -> None:
    runtime = accounts_runtime
    seed_user(runtime, "ada", "acme")
    _export(runtime, WEEK_2, _pull("a", WEEK_2, "192.0.2.1"))
    api = start_api()
    token = api.token("ada")
    with api.client() as client:
        client.headers["Authorization"] = f"Bearer {token}"
        # read twice: the second answer comes from the cache of this epoch
        assert _weeks(client) == [2] and _weeks(client) == [2]
        assert client.get(f"{EXPORTS}/years/2026/weeks/3").status_code == 404
        old_link = _raw_link(client, 2)
        assert _download(client, old_link).status_code == 200

        before = _exports_epoch(runtime)
        _export(runtime, WEEK_3, _pull("b", WEEK_3, "192.0.2.2"), _pull("c", WEEK_3, "192.0.2.3"))
        assert _exports_epoch(runtime) > before  # the triggers saw the new catalog rows

        # the server cached "weeks: [2]" and "week 3: not exported"; neither is served now
        assert _weeks(client) == [2, 3]
        assert client.get(f"{EXPORTS}/years/2026/weeks/3").json() == {"week": 3}
        got = _download(client, _raw_link(client, 3))
        assert got.status_code == 200
        rows = gzip.decompress(got.content).decode().splitlines()
        assert len(rows) == 1 + 2  # the header and week 3's two pulls

        # rebuilding week 2 replaces its files: the link handed out before is refused, its
        # cached catalog row notwithstanding, and the new link works
        rebuilt = export_closed(
            runtime, now=end_of_day(WEEK_3.end + timedelta(days=1)), rebuild=True
        )
        assert rebuilt.failed == []
        new_link = _raw_link(client, 2)
        assert new_link != old_link
        assert _download(client, old_link).status_code == 403
        assert _download(client, new_link).status_code == 200

        # a listing answers with an ETag; a repeat is answered from the cache (304 when held)
        listed = client.get(f"{EXPORTS}/years/2026/weeks")
        etag = listed.headers["etag"]
        again = client.get(f"{EXPORTS}/years/2026/weeks", headers={"If-None-Match": etag})
        assert again.status_code == 304
        # an operator removes week 3 by hand: no new data, only the catalog changed
        with runtime.sessions.begin() as session:
            for table in ("export_files", "export_periods"):
                session.execute(
                    text(f"DELETE FROM {table} WHERE period_kind = 'week' AND period_start = :s"),
                    {"s": WEEK_3.start},
                )
        assert _weeks(client) == [2]
        changed = client.get(f"{EXPORTS}/years/2026/weeks", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert client.get(f"{EXPORTS}/years/2026/weeks/3").status_code == 404


def test_every_change_to_the_export_catalog_bumps_the_epoch(accounts_runtime: Runtime) -> None:
    runtime = accounts_runtime
    seed_user(runtime, "ada", "acme")
    start = _exports_epoch(runtime)
    _export(runtime, WEEK_2, _pull("a", WEEK_2, "192.0.2.1"))
    inserted = _exports_epoch(runtime)
    assert inserted > start
    with runtime.sessions.begin() as session:  # an operator's SQL: an update, then a delete
        session.execute(text("UPDATE export_files SET size = size + 0"))
    updated = _exports_epoch(runtime)
    assert updated > inserted
    with runtime.sessions.begin() as session:
        session.execute(text("DELETE FROM export_files"))
        session.execute(text("DELETE FROM export_periods"))
    assert _exports_epoch(runtime) > updated


def test_the_listings_are_cached_and_a_views_signed_links_are_not() -> None:
    assert export_listing(f"{EXPORTS}/years")
    assert export_listing(f"{EXPORTS}/years/2026/weeks")
    assert export_listing(f"{EXPORTS}/years/2026/months/10")
    # links are signed and expire: answered by the route every time
    assert not export_listing(f"{EXPORTS}/years/2026/months/10/raw")
    assert not export_listing("/api/publisher/analytics/v1/namespaces/acme/pulls")
