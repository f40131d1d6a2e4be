"""What ``process`` and ``export`` ask object storage: the lake's files are listed, and a listed
file is read without a ``HEAD`` request for each question DuckDB asks about it (its size, time,
existence), counted in ``moto_server``'s log of requests (one line each)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import pytest

from pullstats.exports.closing import export_closed
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from pullstats.s3_store import S3Store
from tests.conftest import catalog_settings
from tests.exports.golden import THROUGH
from tests.storage.conftest import S3Server
from tests.storage.test_s3 import golden_on_s3

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]

# "HEAD /bucket/lake/actions/day=2026-01-05/actions.parquet HTTP/1.1" 200 -
_REQUEST = re.compile(r'"([A-Z]+) /([^/ ?]+)/([^ ?]*) [^"]*" (\d+)')
# "GET /bucket?list-type=2&prefix=lake/actions/&delimiter=&encoding-type=url HTTP/1.1" 200 -
_LISTING = re.compile(r'"GET /([^/ ?]+)\?list-type=2&prefix=([^& ]*)')
# the server colours the lines of some answers (206, 404): the colour codes are dropped
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


class RequestLog:
    """The requests the server logged for ``bucket`` since the last :meth:`requests`."""

    def __init__(self, server: S3Server, bucket: str) -> None:
        self.log, self.bucket = server.log, bucket
        self.seen = self._lines()

    def _lines(self) -> int:
        return len(self.log.read_text(errors="replace").splitlines())

    def requests(self) -> Counter[tuple[str, str]]:
        """(method, folder of the key: ``lake/actions``, …) → how many, since the last call.
        A ``HEAD`` of a key that does not exist (404: is there a file of a day left without
        actions to delete?) is counted as ``HEAD-missing``."""
        lines = self.log.read_text(errors="replace").splitlines()
        new, self.seen = lines[self.seen :], len(lines)
        counted: Counter[tuple[str, str]] = Counter()
        for line in (_COLOUR.sub("", line) for line in new):
            if (listing := _LISTING.search(line)) and listing.group(1) == self.bucket:
                counted[("LIST", _folder(unquote(listing.group(2))))] += 1
            elif (match := _REQUEST.search(line)) and match.group(2) == self.bucket:
                method, status = match.group(1), match.group(4)
                if method == "HEAD" and status == "404":
                    method = "HEAD-missing"
                counted[(method, _folder(match.group(3)))] += 1
        return counted


def _folder(key: str) -> str:
    return "/".join(key.split("/")[:2])


def heads(requests: Counter[tuple[str, str]], folder: str) -> int:
    return requests[("HEAD", folder)]


def test_process_and_export_read_the_listed_lake_files_without_a_head_request_each(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = golden_on_s3(s3_env, tmp_path / "data", monkeypatch)
    runtime = Runtime.open(catalog_settings(tmp_path / "data"))
    try:
        log = RequestLog(s3_env, bucket)
        # the golden week's seven days classified again, its week and month rolled up again
        process(runtime, rebuild_from=date(2026, 1, 5), rebuild_to=date(2026, 1, 11))
        processed = log.requests()
        result = export_closed(runtime, now=end_of_day(THROUGH))
        exported = log.requests()
    finally:
        runtime.close()
    assert result.failed == [] and result.exported
    # the work was done on the bucket: requests listed, actions written, parts uploaded (the
    # files' bytes come from DuckDB's cache of what it read while building the lake)
    assert processed[("LIST", "lake/requests")] > 0
    assert processed[("PUT", "lake/actions")] == 6  # the six days of the week with actions
    assert exported[("PUT", "exports/acme")] > 0
    # before the listings were held: 79, 812 and 463 HEAD requests
    assert heads(processed, "lake/requests") == 0
    assert heads(processed, "lake/actions") == 0
    assert heads(exported, "lake/actions") == 0


def test_a_held_listing_answers_for_a_file_until_the_store_writes_it(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_env.bucket()
    store = S3Store(f"s3://{bucket}/lake", "PULLSTATS_LAKE_URL")
    staged = tmp_path / "staged"
    store.write_bytes("a/one", b"12345", staged)
    log = RequestLog(s3_env, bucket)
    location = store.location("a/one")
    assert store.size_of(location) == 5
    assert heads(log.requests(), "lake/a") == 1  # not held: asked each time
    with store.holding_listings():
        assert store.files("a") == ["a/one"]
        assert store.size_of(location) == 5
        assert store.exists("a/one")
        assert heads(log.requests(), "lake/a") == 0
        # written by the store itself: the listing no longer answers, the new size is read
        store.write_bytes("a/one", b"1234567", staged)
        assert store.size_of(location) == 7
        assert heads(log.requests(), "lake/a") == 1
        with store.holding_listings():  # nested (a job within a job): still held after it
            store.files("a")
        store.size_of(location)
        assert heads(log.requests(), "lake/a") == 0
    # let go: the next question is asked again
    assert store.size_of(location) == 7
    assert heads(log.requests(), "lake/a") == 1


def test_an_object_rewritten_behind_a_held_listing_is_refused_not_misread(
    s3_env: S3Server, tmp_path: Path
) -> None:
    bucket = s3_env.bucket()
    store = S3Store(f"s3://{bucket}/lake", "PULLSTATS_LAKE_URL")
    store.write_bytes("a/one", b"old bytes", tmp_path / "staged")
    with store.holding_listings():
        store.files("a")
        # another process (which the job lock keeps out) rewrites the object, same length
        s3_env.client().put_object(Bucket=bucket, Key="lake/a/one", Body=b"new bytes")  # type: ignore[attr-defined]
        with pytest.raises(OSError) as refused, store.open("a/one") as handle:
            handle.read()
        assert "no longer exists" in str(refused.value)  # s3fs: the ETag it read with changed
    with store.open("a/one") as handle:  # let go: the object as it is now
        assert handle.read() == b"new bytes"


def test_a_start_up_asks_for_each_stores_description_once(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = golden_on_s3(s3_env, tmp_path / "data", monkeypatch)
    log = RequestLog(s3_env, bucket)
    Runtime.open(catalog_settings(tmp_path / "data")).close()
    asked = log.requests()
    # the two stores' checks list one key each, and each description is read once (s3fs asks
    # for its size first): the lake's was read three times, with a HEAD each; the exports
    # store's id costs no listing once it is there
    assert asked == Counter(
        {
            ("LIST", "lake"): 1,
            ("LIST", "exports"): 1,
            ("HEAD", "lake/_meta.json"): 1,
            ("GET", "lake/_meta.json"): 1,
            ("HEAD", "exports/_exports.json"): 1,
            ("GET", "exports/_exports.json"): 1,
        }
    )
