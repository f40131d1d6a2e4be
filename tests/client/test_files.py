"""Downloads, resume, integrity checks and sync: against the real pullstats server of
``conftest.py`` (its export files, links and Range support), and against loopback stand-ins
in Docker Hub's layout (a listing without ``sha256``, files on another host) for what a
pullstats server never does (no Range support, a cut transfer, bytes that are not gzip).

Nothing of the client is mocked; files are real, under ``tmp_path``.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from pullstats.client import (
    CorruptDownload,
    DvpClient,
    ExportFile,
    Forbidden,
    NotFound,
    ServerError,
    download,
    download_many,
    local_path,
    sync,
)
from pullstats.client.files import MAX_WAIT
from pullstats.client.mirror import MANIFEST
from pullstats.exports.views import Dataview
from pullstats.rollups.series_query import Timespan
from tests.client.conftest import Served, serving, signed_in
from tests.client.test_retries import StandIn
from tests.conftest import free_port, run_cli

#: the package's ``served`` installation (conftest.py) is built once: on the worker that
#: runs every module using it
pytestmark = pytest.mark.xdist_group("client")

RAW_HEADER = (
    "timestamp,namespace,repository,reference,digest,tag,action_day,http_method,action,type,"
    "host,country,domain,user_agent_tool,user_agent_version,user_agent"
)


def labels(files: list[ExportFile]) -> list[str]:
    """Files compared by what they are: each listing signs its links anew."""
    return [file.label for file in files]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def month_files(served: Served) -> list[ExportFile]:
    with signed_in(served) as client:
        return list(client.export_files("acme", timespantypes=[Timespan.MONTHS]))


def month_raw(served: Served) -> ExportFile:
    return next(f for f in month_files(served) if f.dataview is Dataview.RAW)


class Recorder:
    """httpx event hooks keeping every request and response, to see what went on the wire."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.responses: list[httpx.Response] = []

    def hooks(self) -> dict[str, list[Any]]:
        return {"request": [self.requests.append], "response": [self.responses.append]}

    def client(self) -> httpx.Client:
        return httpx.Client(timeout=30, event_hooks=self.hooks())


# --- against the pullstats server ----------------------------------------------------------


def test_a_month_downloads_whole_checked_and_without_the_token(
    served: Served, tmp_path: Path
) -> None:
    positions: dict[str, list[int]] = {}
    recorder = Recorder()
    with signed_in(served) as client:
        client.session.http.event_hooks = recorder.hooks()  # the client's own connection pool
        files = list(client.export_files("acme", timespantypes=[Timespan.MONTHS]))
        for file in files:
            got = download(
                client,
                file,
                local_path(tmp_path, file),
                progress=lambda f, at: positions.setdefault(f.label, []).append(at),
            )
            assert got == file.sha256 == sha256(local_path(tmp_path, file))
    assert {f.dataview for f in files} == set(Dataview)  # one month, four views, one part each
    raw = next(f for f in files if f.dataview is Dataview.RAW)
    month = served.month
    path = tmp_path / "acme" / str(month.year) / "months" / f"{month.month:02d}" / "raw"
    assert local_path(tmp_path, raw) == path / "part001.csv.gz"
    text = gzip.decompress((path / "part001.csv.gz").read_bytes()).decode()
    assert text.splitlines()[0] == RAW_HEADER
    rows = sorted((r["repository"], r["action"]) for r in csv.DictReader(io.StringIO(text)))
    assert rows == [
        ("api", "pull_by_digest"),
        ("api", "pull_by_tag"),
        ("api", "version_check"),
        ("tools/cli", "pull_by_digest"),
    ]
    assert {label: at[-1] for label, at in positions.items()} == {f.label: f.size for f in files}
    assert list(tmp_path.rglob("*.part")) == []
    # the token went to the API and never to a file link, through the same pool
    downloads = [r for r in recorder.requests if r.url.path.startswith("/downloads/")]
    api_calls = [r for r in recorder.requests if r not in downloads]
    assert len(downloads) == len(files)
    assert all("authorization" not in r.headers for r in downloads)
    assert api_calls and all(r.headers["authorization"].startswith("Bearer ") for r in api_calls)


def test_a_cut_download_continues_with_a_range(served: Served, tmp_path: Path) -> None:
    raw = month_raw(served)
    whole = httpx.get(raw.url, timeout=30).content
    assert len(whole) == raw.size > 100
    dest = tmp_path / "raw.csv.gz"
    half = len(whole) // 2
    (tmp_path / "raw.csv.gz.part").write_bytes(whole[:half])  # what a cut transfer leaves
    recorder, positions = Recorder(), []
    with recorder.client() as http:
        download(http, raw, dest, progress=lambda _, at: positions.append(at))
    assert dest.read_bytes() == whole and not (tmp_path / "raw.csv.gz.part").exists()
    assert [r.headers.get("range") for r in recorder.requests] == [f"bytes={half}-"]
    # the server sent the second half only
    sent = [(r.status_code, int(r.headers["content-length"])) for r in recorder.responses]
    assert sent == [(206, len(whole) - half)]
    assert positions[-1] == len(whole) and min(positions) > half


@pytest.mark.parametrize("lie", ["sha256", "size"])
def test_bytes_that_are_not_the_listed_file_are_fetched_once_more_then_refused(
    served: Served, tmp_path: Path, lie: str
) -> None:
    raw = month_raw(served)
    listed = replace(raw, sha256="0" * 64) if lie == "sha256" else replace(raw, size=raw.size + 1)
    dest = tmp_path / "raw.csv.gz"
    recorder = Recorder()
    with recorder.client() as http, pytest.raises(CorruptDownload) as refused:
        download(http, listed, dest)
    assert refused.value.label == raw.label and raw.label in refused.value.message
    assert ("SHA-256" if lie == "sha256" else f"{raw.size} bytes") in refused.value.message
    assert len(recorder.requests) == 2  # one fresh fetch before giving up
    assert list(tmp_path.iterdir()) == []  # neither the file nor its .part stays


def test_a_refused_link_is_asked_for_again_once(served: Served, tmp_path: Path) -> None:
    """What an expired link gets (403) while it waits its turn: a new listing, once."""
    raw = month_raw(served)
    refused = replace(raw, url=re.sub(r"signature=\w+", "signature=0", raw.url))
    assert refused.url != raw.url
    with httpx.Client(timeout=30) as http:
        plain = download_many(http, [refused], tmp_path)  # no client to ask for a new link
    ((file, error),) = plain.failed
    assert file.label == raw.label and plain.downloaded == []
    assert isinstance(error, Forbidden) and error.status == 403
    with signed_in(served) as client:
        renewed = download_many(client, [refused], tmp_path)
    assert renewed.failed == [] and labels(renewed.downloaded) == [raw.label]
    assert sha256(local_path(tmp_path, raw)) == raw.sha256


def test_sync_fetches_each_file_once(served: Served, tmp_path: Path) -> None:
    with signed_in(served) as client:
        listed = list(client.export_files("acme"))
        first = sync(client, "acme", tmp_path)
        second = sync(client, "acme", tmp_path)
    assert {(f.timespantype, f.dataview) for f in listed} == {
        (kind, view) for kind in Timespan for view in Dataview
    }
    assert labels(first.downloaded) == labels(listed)
    assert first.skipped == first.failed == first.removed == []
    on_disk = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    expected = {local_path(tmp_path, f).relative_to(tmp_path) for f in listed}
    assert on_disk == expected | {Path(MANIFEST)}
    assert second.downloaded == second.failed == [] and labels(second.skipped) == labels(listed)
    recorded = json.loads((tmp_path / MANIFEST).read_text())["files"]
    for file in listed:
        entry = recorded[local_path(tmp_path, file).relative_to(tmp_path).as_posix()]
        assert (entry["size"], entry["sha256"]) == (file.size, file.sha256)


def _damage(path: Path, *, keep_mtime: bool) -> None:
    """Flip a byte in the middle. A later write moves the mtime; set it one second on, so the
    clock's granularity cannot decide the test, or back to what it was."""
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    later = before.st_mtime_ns if keep_mtime else before.st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(before.st_atime_ns, later))


def test_a_damaged_file_is_checked_and_fetched_again(served: Served, tmp_path: Path) -> None:
    raw = month_raw(served)
    path = local_path(tmp_path, raw)
    with signed_in(served) as client:
        sync(client, "acme", tmp_path)
        _damage(path, keep_mtime=False)
        again = sync(client, "acme", tmp_path)
    assert labels(again.downloaded) == [raw.label]
    assert sha256(path) == raw.sha256


def test_an_untouched_file_is_trusted_and_verify_reads_every_file(
    served: Served, tmp_path: Path
) -> None:
    raw = month_raw(served)
    path = local_path(tmp_path, raw)
    with signed_in(served) as client:
        sync(client, "acme", tmp_path)
        _damage(path, keep_mtime=True)  # the same size and mtime: the manifest is believed
        trusting = sync(client, "acme", tmp_path)
        verified = sync(client, "acme", tmp_path, verify=True)
    assert trusting.downloaded == []
    assert labels(verified.downloaded) == [raw.label]
    assert sha256(path) == raw.sha256


def test_a_rebuilt_export_is_fetched_again(served: Served, tmp_path: Path) -> None:
    raw = month_raw(served)
    path = local_path(tmp_path, raw)
    with signed_in(served) as client:
        sync(client, "acme", tmp_path)
        # what an earlier sync left of the export before a rebuild: other bytes, recorded
        old = gzip.compress((RAW_HEADER + "\r\n").encode(), mtime=0)
        path.write_bytes(old)
        manifest = json.loads((tmp_path / MANIFEST).read_text())
        manifest["files"][path.relative_to(tmp_path).as_posix()] = {
            "size": len(old),
            "sha256": hashlib.sha256(old).hexdigest(),
            "mtime_ns": path.stat().st_mtime_ns,
        }
        (tmp_path / MANIFEST).write_text(json.dumps(manifest))
        again = sync(client, "acme", tmp_path)
    assert labels(again.downloaded) == [raw.label]
    assert sha256(path) == raw.sha256


def test_a_part_no_longer_listed_is_removed(served: Served, tmp_path: Path) -> None:
    raw = month_raw(served)
    with signed_in(served) as client:
        sync(client, "acme", tmp_path, timespantypes=[Timespan.MONTHS])
        # an export rebuilt with fewer parts leaves the old part002 (and a cut .part of it)
        folder = local_path(tmp_path, raw).parent
        stale = [folder / "part002.csv.gz", folder / "part003.csv.gz.part"]
        for path in stale:
            path.write_bytes(b"old")
        unrelated = folder / "notes.txt"
        unrelated.write_text("mine")
        again = sync(client, "acme", tmp_path, timespantypes=[Timespan.MONTHS])
    assert again.removed == stale and again.downloaded == []
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "part001.csv.gz"]


def test_since_keeps_the_periods_that_end_on_or_after_it(served: Served, tmp_path: Path) -> None:
    month = served.month
    following = f"{month.year + month.month // 12}-{month.month % 12 + 1:02d}"
    with signed_in(served) as client:
        later = sync(client, "acme", tmp_path, since=following)
        assert later.downloaded == later.skipped == []
        since_then = sync(client, "acme", tmp_path, since=f"{month.year}-{month.month:02d}")
        assert labels(since_then.downloaded) == labels(list(client.export_files("acme")))
        with pytest.raises(ValueError, match="YYYY-MM"):
            sync(client, "acme", tmp_path, since="2026-13")


def test_local_paths_follow_the_layout_and_refuse_escaping_names(tmp_path: Path) -> None:
    file = ExportFile("acme", 2026, Timespan.WEEKS, 5, Dataview.REPO_SUMMARY, 2, "http://h/f", 9)
    assert local_path(tmp_path, file) == (
        tmp_path / "acme" / "2026" / "weeks" / "05" / "repo-summary" / "part002.csv.gz"
    )
    for name in ["..", "../elsewhere", "a/b", "/absolute", ".hidden", "a\\b", "", "x\x00", " acme"]:
        with pytest.raises(ValueError, match="escape"):
            local_path(tmp_path, replace(file, namespace=name))


# --- Docker Hub's layout: a listing without sha256, the files on another host ---------------


class FileHost(ThreadingHTTPServer):
    """A file host like S3: serves bytes by path, honours ``Range`` unless told not to, can
    cut its next answer short, and records each request's headers."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FileHandler)
        self.files: dict[str, bytes] = {}
        self.ranges = True
        self.cut_after: int | None = None
        self.cut_every = False  # cut each answer at cut_after, not just the next one
        #: answers given, in turn, before any file: (status, Retry-After or None)
        self.refusals: list[tuple[int, str | None]] = []
        self.seen: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class FileHandler(BaseHTTPRequestHandler):
    server: FileHost

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.server.seen.append({"path": path, **{k.lower(): v for k, v in self.headers.items()}})
        if self.server.refusals:
            status, retry_after = self.server.refusals.pop(0)
            self.send_response(status)
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.server.files[path]
        asked = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        start = int(asked.group(1)) if asked and self.server.ranges else 0
        if start:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "binary/octet-stream")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start : self.server.cut_after]
        if not self.server.cut_every:
            self.server.cut_after = None
        self.wfile.write(payload)  # short of Content-Length when cut: the connection closes

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def host() -> Iterator[FileHost]:
    yield from serving(FileHost())


@pytest.fixture
def hub() -> Iterator[StandIn]:
    yield from serving(StandIn())


HUB_CSV = b"timestamp,repository,action\r\n2026-10-10T12:00:00Z,api,pull_by_tag\r\n" * 40
#: rows gzip cannot shrink much: a file of some kilobytes, so a transfer can be cut midway
MANY_ROWS = b"".join(
    hashlib.sha256(str(n).encode()).hexdigest().encode() + b",api,pull_by_tag\r\n"
    for n in range(200)
)
NAME = "/hub-exports/acme/raw/part-0001.csv.gz"


def listing(url: str, size: int) -> list[tuple[int, dict[str, str], Any]]:
    """Docker Hub's answers to one walk of October 2026's raw view: no ``sha256``."""
    return [
        (200, {}, {"years": [{"year": 2026}]}),
        (200, {}, {"months": [{"month": 10}]}),
        (200, {}, {"data": [{"url": url, "size": size}]}),
    ]


def hub_sync(hub: StandIn, root: Path) -> Any:
    with DvpClient(hub.url, token="hub-token") as client:
        return sync(client, "acme", root, timespantypes=[Timespan.MONTHS], views=[Dataview.RAW])


def test_a_listing_without_sha256_is_checked_by_size_and_gzip(
    hub: StandIn, host: FileHost, tmp_path: Path
) -> None:
    body = gzip.compress(HUB_CSV)
    host.files[NAME] = body
    hub.script = listing(f"{host.url}{NAME}?X-Amz-Signature=abc", len(body)) * 2
    first, second = hub_sync(hub, tmp_path), hub_sync(hub, tmp_path)
    (file,) = first.downloaded
    assert file.sha256 is None and file.label == "acme/2026/months/10/raw/part001"
    assert local_path(tmp_path, file).read_bytes() == body
    assert second.downloaded == [] and labels(second.skipped) == [file.label]
    assert len(host.seen) == 1  # the second sync trusted the manifest
    assert "authorization" not in host.seen[0]  # the Hub token never reaches the file host


@pytest.mark.parametrize(
    ("served_bytes", "why"),
    [
        (b"<Error><Code>AccessDenied</Code></Error>", "not a whole gzip stream"),
        (gzip.compress(HUB_CSV)[:-8], "not a whole gzip stream"),  # the trailer cut off
    ],
    ids=["not-gzip", "truncated"],
)
def test_bytes_that_are_no_whole_gzip_fail_after_a_second_fetch(
    hub: StandIn, host: FileHost, tmp_path: Path, served_bytes: bytes, why: str
) -> None:
    host.files[NAME] = served_bytes
    hub.script = listing(f"{host.url}{NAME}", len(served_bytes))
    report = hub_sync(hub, tmp_path)
    assert report.downloaded == []
    ((file, error),) = report.failed
    assert isinstance(error, CorruptDownload) and why in error.message
    assert file.label in error.message and len(host.seen) == 2
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [tmp_path / MANIFEST]


def test_a_host_without_range_support_starts_again_from_zero(
    host: FileHost, tmp_path: Path
) -> None:
    body = gzip.compress(MANY_ROWS)
    host.files[NAME], host.ranges = body, False
    file = ExportFile(
        "acme", 2026, Timespan.MONTHS, 10, Dataview.RAW, 1, host.url + NAME, len(body)
    )
    dest = tmp_path / "raw.csv.gz"
    (tmp_path / "raw.csv.gz.part").write_bytes(body[:100])
    with httpx.Client() as http:
        download(http, file, dest)
    assert dest.read_bytes() == body
    assert [seen.get("range") for seen in host.seen] == ["bytes=100-"]  # answered 200: all


def test_a_transfer_cut_midway_is_continued_where_it_stopped(
    host: FileHost, tmp_path: Path
) -> None:
    body = gzip.compress(MANY_ROWS)
    assert len(body) > 4000
    host.files[NAME], host.cut_after = body, 1000
    file = ExportFile(
        "acme", 2026, Timespan.MONTHS, 10, Dataview.RAW, 1, host.url + NAME, len(body)
    )
    dest = tmp_path / "raw.csv.gz"
    with httpx.Client() as http:
        download(http, file, dest)
    assert dest.read_bytes() == body
    assert [seen.get("range") for seen in host.seen] == [None, "bytes=1000-"]


def test_a_host_that_asks_to_wait_is_waited_for_as_it_says(host: FileHost, tmp_path: Path) -> None:
    """S3 answers ``503 SlowDown`` to a client that asks too fast, other hosts 429: each is
    tried again after its ``Retry-After``; one asking longer than MAX_WAIT is not waited for."""
    body = gzip.compress(MANY_ROWS)
    host.files[NAME] = body
    host.refusals = [(503, "0"), (429, "0")]
    file = ExportFile(
        "acme", 2026, Timespan.MONTHS, 10, Dataview.RAW, 1, host.url + NAME, len(body)
    )
    with httpx.Client() as http:
        download(http, file, tmp_path / "raw.csv.gz")
        assert (tmp_path / "raw.csv.gz").read_bytes() == body
        assert len(host.seen) == 3

        host.seen.clear()
        host.refusals = [(503, str(int(MAX_WAIT) + 1))]
        with pytest.raises(ServerError, match=r"^503"):
            download(http, file, tmp_path / "again.csv.gz")
        assert len(host.seen) == 1  # raised at once, for the next run to try
        host.refusals = [(404, None)]
        with pytest.raises(NotFound):
            download(http, file, tmp_path / "again.csv.gz")
        assert len(host.seen) == 2  # a missing file is not asked for twice
    assert not (tmp_path / "again.csv.gz").exists()


@pytest.mark.parametrize(
    ("broken", "said"),
    [
        ("cut", "the connection broke off (peer closed connection without sending complete"),
        ("refused", "could not connect ("),
    ],
)
def test_the_cli_names_a_file_it_could_not_fetch_once_and_says_what_the_network_did(
    hub: StandIn, host: FileHost, tmp_path: Path, broken: str, said: str
) -> None:
    """``pullstats hub download``: the file's line names it once and tells the failure in
    words; before, ``acme/…/part001: GET acme/…/part001: RemoteProtocolError('peer …')``."""
    body = gzip.compress(MANY_ROWS)
    host.files[NAME], host.cut_after, host.cut_every = body, 1000, True
    file_url = host.url if broken == "cut" else f"http://127.0.0.1:{free_port()}"
    hub.script = [(200, {}, {"token": "hub-token"}), listing(file_url + NAME, len(body))[2]]
    env = {
        "PULLSTATS_HUB_URL": hub.url,
        "PULLSTATS_HUB_CONFIG_DIR": str(tmp_path / "config"),
        "PULLSTATS_HUB_USERNAME": "alice",
        "PULLSTATS_HUB_PASSWORD": "secret",
    }
    out = tmp_path / "out"
    args = ["download", "acme", "--year", "2026", "--month", "10", "--view", "raw"]
    result = run_cli(tmp_path / "data", "hub", *args, "--out", str(out), env=env)
    label = "acme/2026/months/10/raw/part001"
    assert result.returncode == 1, (result.stdout, result.stderr, hub.seen)
    first, last = result.stderr.splitlines()
    assert first.startswith(f"error: {label}: {said}") and first.count(label) == 1, first
    assert "Error(" not in first  # no Python repr of the exception
    assert last == "error: 1 files could not be downloaded; run it again"
    if broken == "cut":  # the part kept what arrived, for the next run to continue
        (part,) = out.rglob("*.part")
        assert part.read_bytes() == body[:1000]
