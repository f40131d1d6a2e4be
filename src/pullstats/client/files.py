"""Export files on disk: where each one goes, and a resumable, checked download of one.

- **Our layout, not the server's names**: ``root/NS/YEAR/months|weeks/NN/VIEW/partNNN.csv.gz``
  is the same for a pullstats server and Docker Hub and across re-exports, so a renamed file
  never leaves a second copy behind for :mod:`pullstats.client.query` to count twice, and no
  name a server sends reaches the file system. VIEW is the file's kind: a ``pulls`` dataview,
  or a report (``summary-report``), a name no dataview has, so the two never share a folder.
- **Resumable**: bytes go to ``dest.part``; a cut transfer continues with ``Range: bytes=N-``
  when the server answers 206, else starts again from 0. The file is renamed into place only
  when it is whole, so ``dest`` is always a complete file or absent.
- **Checked**: whole means the listed size, a gzip stream that decompresses to its end, and the
  listed SHA-256 when the server gives one (a pullstats extension; Docker Hub does not). A
  mismatch is fetched once more, then raised as ``CorruptDownload``: a server that sends the
  same wrong bytes twice will not heal by retrying.
- **No token to file hosts**: links are signed URLs, possibly on another host (S3 presigned);
  they are fetched without any Authorization header.

Many files at once, and keeping a whole tree up to date (``sync``), are
:mod:`pullstats.client.mirror`.
Nothing here prints: a caller follows progress through the ``progress`` callback.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import re
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import httpx

from pullstats.atomic_files import publish
from pullstats.client.dvp import DvpClient, ExportFile
from pullstats.client.errors import CorruptDownload, RateLimited, ServerError, TransportError
from pullstats.client.session import error_for, no_answer

PART_SUFFIX = ".part"
CHUNK = 1 << 20
#: a transfer cut short, or refused for now (429, 5xx), is tried this many times before the
#: failure is raised
ATTEMPTS = 3
#: the longest ``Retry-After`` of a file host that is waited for; a longer one is raised at once
#: (the caller's next run continues the ``.part``), as the data calls do (``Session.max_wait``)
MAX_WAIT = 30.0

#: ``progress(file, position)``: the bytes of ``file`` now on disk, from a download thread. The
#: position can fall back to 0 when a server cannot resume or a corrupt file is fetched again.
Progress = Callable[[ExportFile, int], None]


def safe_segment(name: str) -> str:
    """``name`` as one folder name under the root, or ValueError if it could leave the folder
    or hide in it (``..``, a slash, an absolute path, a leading dot, NUL)."""
    if (
        not name
        or name.startswith(".")
        or any(c in name for c in "/\\\x00")
        or name != name.strip()
    ):
        raise ValueError(f"refusing {name!r} as a local folder name: it could escape the root")
    return name


def local_path(root: Path, file: ExportFile) -> Path:
    """Where ``file`` lives under ``root``: ``NS/YEAR/months|weeks/NN/VIEW/partNNN.csv.gz``,
    VIEW being :attr:`ExportFile.kind` (``raw`` … or ``summary-report``)."""
    return (
        root
        / safe_segment(file.namespace)
        / f"{file.year:04d}"
        / file.timespantype.value
        / f"{file.timespan:02d}"
        / file.kind.value
        / f"part{file.part:03d}.csv.gz"
    )


class _Hashing:
    """A read-only file that hashes what is read through it, so one pass both gunzips and
    hashes a part of up to hundreds of megabytes."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        raise io.UnsupportedOperation("a hashing read goes forward only")


def check(path: Path, file: ExportFile) -> str:
    """The SHA-256 of ``path`` when it holds ``file`` whole (size, gzip to its end, SHA-256
    when listed); else ``CorruptDownload`` saying what is wrong."""
    size = path.stat().st_size
    if size != file.size:
        raise CorruptDownload(
            f"{file.label}: {size} bytes, the listing says {file.size}", file.label
        )
    if size == 0:  # gzip reads an empty file as an empty stream; it is no gzip file at all
        raise CorruptDownload(f"{file.label}: an empty file, not a gzip stream", file.label)
    try:
        with open(path, "rb") as raw:
            hashing = _Hashing(raw)
            with gzip.GzipFile(fileobj=hashing, mode="rb") as unzipped:
                while unzipped.read(CHUNK):
                    pass
            while hashing.read(CHUNK):  # whatever gzip left unread still counts
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptDownload(f"{file.label}: not a whole gzip stream ({exc})", file.label) from exc
    actual = hashing.digest.hexdigest()
    if file.sha256 is not None and actual != file.sha256.lower():
        raise CorruptDownload(
            f"{file.label}: SHA-256 {actual}, the listing says {file.sha256}", file.label
        )
    return actual


def download(
    http: DvpClient | httpx.Client,
    file: ExportFile,
    dest: Path,
    *,
    progress: Progress | None = None,
) -> str:
    """Fetch ``file`` to ``dest`` and return its SHA-256; ``dest`` appears only when whole.

    A ``dest.part`` left by an earlier try is continued. Raises ``CorruptDownload`` when two
    fetches give bytes that are not the listed file, ``Forbidden`` for an expired or refused
    link (ask for the listing again), ``TransportError`` when the transfer keeps failing (the
    ``.part`` stays, to be continued), and the other ``ClientError``s for other statuses.
    """
    client = http.session.http if isinstance(http, DvpClient) else http
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + PART_SUFFIX)
    problem = ""
    for _ in range(2):
        _transfer(client, file, part, progress)
        try:
            sha256 = check(part, file)
        except CorruptDownload as exc:
            problem = exc.message
            part.unlink(missing_ok=True)
            continue
        publish(part, dest)
        return sha256
    raise CorruptDownload(f"{problem} (fetched twice)", file.label)


def _transfer(
    client: httpx.Client, file: ExportFile, part: Path, progress: Progress | None
) -> None:
    """Bring ``part`` to the listed size, continuing it across cut transfers."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            _fetch(client, file, part, progress)
            return
        except (TransportError, ServerError, RateLimited) as exc:
            wait = _wait_before(exc, attempt)
            if wait is None or attempt == ATTEMPTS:
                raise
            time.sleep(wait)


def _wait_before(exc: TransportError | ServerError | RateLimited, attempt: int) -> float | None:
    """Seconds to wait before trying again after ``exc``, or None when waiting will not help.

    A cut, a 5xx or a 429 of the file host (S3 answers ``503 SlowDown``) passes: the wait is its
    ``Retry-After`` when it sent one, else half a second doubling, with some jitter so that the
    threads of one mirror do not all come back at once."""
    if exc.status is not None and exc.status != 429 and exc.status < 500:
        return None
    hinted = exc.retry_after if isinstance(exc, ServerError | RateLimited) else None
    if hinted is not None:
        return hinted if hinted <= MAX_WAIT else None
    return 0.5 * 2.0 ** (attempt - 1) + random.uniform(0, 0.2)


def _fetch(client: httpx.Client, file: ExportFile, part: Path, progress: Progress | None) -> None:
    have = part.stat().st_size if part.exists() else 0
    if have > file.size:  # not a prefix of this file: a leftover of another export
        have = 0
    if have == file.size and have > 0:
        return  # a whole file waiting for its check (the rename was interrupted)
    for offset in (have, 0) if have else (0,):
        response = _get(client, file, offset)
        try:
            status = response.status_code
            if offset and _continues(response, offset):
                _write(response, file, part, offset, progress)
            elif status == 200:  # a server without Range support sends it all: from 0
                _write(response, file, part, 0, progress)
            elif offset and status in (206, 416):
                continue  # a range it cannot serve as asked: ask for the whole file
            else:
                response.read()
                raise error_for(response)
            return
        except httpx.HTTPError as exc:  # the .part keeps what arrived: the next try continues it
            raise no_answer(file.label, exc) from exc
        finally:
            response.close()


def _get(client: httpx.Client, file: ExportFile, offset: int) -> httpx.Response:
    # identity: the bytes on disk must be the gzip file itself, never a decoded copy of it
    headers = {"Accept": "*/*", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = client.build_request("GET", file.url, headers=headers)
    request.headers.pop("Authorization", None)  # a signed link needs no token: never leak it
    try:
        # auth=None: no client-level auth either; httpx drops Authorization on cross-origin
        # redirects (a pullstats link answering 307 to S3) by itself
        return client.send(request, stream=True, follow_redirects=True, auth=None)
    except httpx.HTTPError as exc:
        raise no_answer(file.label, exc) from exc


def _continues(response: httpx.Response, offset: int) -> bool:
    """Whether a ranged request was answered with the bytes from ``offset`` on."""
    if response.status_code != 206:
        return False
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
    return match is not None and int(match.group(1)) == offset


def _write(
    response: httpx.Response,
    file: ExportFile,
    part: Path,
    offset: int,
    progress: Progress | None,
) -> None:
    position = offset
    with open(part, "ab" if offset else "wb") as out:
        # as it arrives: a chunk size would make httpx hold bytes back, and a cut lose them
        for chunk in response.iter_raw():
            out.write(chunk)
            position += len(chunk)
            if progress is not None:
                progress(file, position)
            if position > file.size:  # more than listed: the check will say so, stop here
                break
