"""What stops ``download_many`` (``pullstats hub download`` and ``sync``) on this machine's side.

- Ctrl-C: the downloads under way stop at their next chunk, keep their ``.part`` files to be
  continued, and the interrupt goes on up. Before, the pool waited for every download under way
  to finish, so a first Ctrl-C during a sync of big raw views did nothing for minutes. A
  loopback file host that trickles its bytes stands in for a slow network.
- A file that cannot be written (a full disk: ``/dev/full``) ends the run, as the others would
  fail alike, naming the file; before, the error named none ("No space left on device"), and
  the run waited for the downloads under way.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from pullstats.client import ExportFile, download_many, local_path
from pullstats.exports.views import Dataview
from pullstats.rollups.series_query import Timespan
from tests.client.conftest import serving

#: a file of 256 chunks of 256 bytes, one chunk every 20 ms: about five seconds a file
BODY = gzip.compress(os.urandom(64 * 1024), compresslevel=0)
CHUNK = 256


class Trickle(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), TrickleHandler)
        self.sending = threading.Event()  # set once a first chunk went out
        self.closing = threading.Event()
        self.pause = 0.02  # between chunks

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class TrickleHandler(BaseHTTPRequestHandler):
    server: Trickle

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        try:
            for start in range(0, len(BODY), CHUNK):
                self.wfile.write(BODY[start : start + CHUNK])
                self.wfile.flush()
                self.server.sending.set()
                if self.server.closing.wait(self.server.pause):
                    return
        except OSError:  # the client hung up: what the test is about
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    server = Trickle()
    try:
        yield from serving(server)
    finally:
        server.closing.set()


def month_files(trickle: Trickle) -> list[ExportFile]:
    """The four views of a month, one part each, every one of them ``BODY``."""
    sha = hashlib.sha256(BODY).hexdigest()
    return [
        ExportFile(
            "acme", 2026, Timespan.MONTHS, 10, view, 1, f"{trickle.url}/{view}", len(BODY), sha
        )
        for view in Dataview
    ]


def test_ctrl_c_stops_the_downloads_under_way_and_keeps_their_parts(
    trickle: Trickle, tmp_path: Path
) -> None:
    files = month_files(trickle)
    main = threading.main_thread().ident
    assert main == threading.get_ident(), "the test sends SIGINT to the thread it runs on"

    def press_ctrl_c() -> None:
        trickle.sending.wait(30)
        assert main is not None
        signal.pthread_kill(main, signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    try:
        with httpx.Client(timeout=30) as client, pytest.raises(KeyboardInterrupt):
            presser.start()
            download_many(client, files, tmp_path, workers=len(files))
    finally:
        signal.signal(signal.SIGINT, previous)
        presser.join(30)
    whole = sorted(path.name for path in tmp_path.rglob("*.csv.gz"))
    parts = {path: path.stat().st_size for path in tmp_path.rglob("*.csv.gz.part")}
    assert whole == [], "the downloads under way ran to their end"
    # the first chunk pressed Ctrl-C: a download not begun by then has no part, or an empty one
    assert parts and all(size < len(BODY) for size in parts.values()), parts


def test_a_file_that_cannot_be_written_ends_the_run_naming_it(
    trickle: Trickle, tmp_path: Path
) -> None:
    files = month_files(trickle)
    full = local_path(tmp_path, files[0])
    full.parent.mkdir(parents=True)
    part = full.with_name(full.name + ".part")
    part.symlink_to("/dev/full")  # every write: ENOSPC, as on a full disk
    with httpx.Client(timeout=30) as client, pytest.raises(OSError) as failed:
        download_many(client, files, tmp_path, workers=len(files))
    assert (failed.value.filename, failed.value.strerror) == (
        str(part),
        "No space left on device",
    )
    # the downloads under way were stopped, not waited for
    assert sorted(tmp_path.rglob("*.csv.gz")) == []
