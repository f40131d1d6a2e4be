"""A view exported in several parts gets one signed link per part, in part order, and the docs
say so in one voice (docs/api.md once claimed a single link per view)."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from pullstats.accounts import service
from pullstats.exports.closing import export_closed
from pullstats.ingest.records import PullRequestRecord
from pullstats.periods import Period
from pullstats.pipeline import end_of_day, process
from pullstats.timestamps import micros, now_micros
from tests.conftest import catalog_settings, fresh_runtime, start_server, write_spool

ROOT = Path(__file__).resolve().parent.parent.parent
WEEK = Period.week(2026, 2)
LINKS = "/api/publisher/analytics/v1/namespaces/acme/pulls/exports/years/2026/weeks/2/raw"


def pull(n: int) -> PullRequestRecord:
    when = datetime.combine(WEEK.start, datetime.min.time(), UTC) + timedelta(minutes=n)
    return PullRequestRecord(
        f"r{n}", micros(when), "GET", "acme/api", f"1.{n % 9}", "sha256:0d",
        f"192.0.2.{n}", "docker/27.3.1", "notification", now_micros(),
    )  # fmt: skip


@pytest.mark.e2e
def test_a_view_in_several_parts_has_one_link_per_part(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runtime = fresh_runtime(catalog_settings(data_dir, export_part_bytes=4096))
    try:
        with runtime.sessions.begin() as session:
            service.create_namespace(session, "acme")
            service.create_user(session, "alice", "alice-password")
            service.add_member(session, "acme", "alice", "member")
        write_spool(runtime, *(pull(n) for n in range(120)))
        process(runtime)
        export_closed(runtime, now=end_of_day(date(2026, 2, 1)))
    finally:
        runtime.close()
    server = start_server(data_dir, tmp_path / "server.log")
    try:
        with server.client() as client:
            token = client.post(
                "/v2/users/login", json={"username": "alice", "password": "alice-password"}
            ).json()["token"]
            links = client.get(LINKS, headers={"Authorization": f"Bearer {token}"}).json()["data"]
            bodies = [gzip.decompress(client.get(link["url"]).content) for link in links]
    finally:
        server.stop()
    names = [link["url"].split("?", 1)[0].rsplit("/", 1)[1] for link in links]
    assert len(links) >= 3
    assert names == [f"acme_raw_2026-W02_part{n:03d}.csv.gz" for n in range(1, len(links) + 1)]
    headers = {body.split(b"\r\n", 1)[0] for body in bodies}
    assert len(headers) == 1  # every part starts with the header row
    rows = [line for body in bodies for line in body.split(b"\r\n")[1:] if line]
    assert len(rows) == 120


def test_the_docs_agree_that_a_view_has_one_link_per_part() -> None:
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    exports = (ROOT / "docs" / "exports.md").read_text(encoding="utf-8")
    assert "one link per part" in api
    assert "one entry per part" in exports
    for text in (api, exports):
        assert "one link per view" not in text
        assert "Splitting a view into several parts" not in text
