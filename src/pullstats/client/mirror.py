"""Many export files at once, and ``sync``: keep a folder equal to a namespace's listing.

- Downloads run on a small thread pool (:data:`WORKERS`); one failure never stops the others,
  and a signed link that expired while it waited its turn (403) is asked for again once. A
  Ctrl-C, or a file this machine cannot write (a full disk: the others would fail alike), ends
  the run: the downloads under way stop at their next chunk, their ``.part`` files kept to be
  continued by the next run.
- ``sync`` mirrors the ``pulls`` dataset by default; ``datasets`` adds report datasets
  (``summary``), whose files go to their own folders (:func:`pullstats.client.files.local_path`).
- ``sync`` keeps ``root/.pullstats-sync.json``: size, SHA-256 and mtime of each file it
  completed, so a second run trusts an untouched file instead of reading every gzip again. A
  file whose size or mtime moved is checked in full (:func:`pullstats.client.files.check`);
  one whose listing changed (a rebuilt export: new size or SHA-256) is fetched again; a part
  no longer listed for its view is removed, so a query never reads two exports of one view.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from pullstats.atomic_files import atomic_path
from pullstats.client.dvp import DvpClient, ExportFile
from pullstats.client.errors import ClientError, CorruptDownload, Forbidden
from pullstats.client.files import PART_SUFFIX, Progress, check, download, local_path
from pullstats.client.url_parts import since_day
from pullstats.exports.reports import Dataset
from pullstats.exports.views import Dataview
from pullstats.rollups.series_query import Timespan

MANIFEST = ".pullstats-sync.json"
#: parallel downloads: enough to hide a link's latency, few enough for a shared file host
WORKERS = 4
_PART_NAME = re.compile(r"part\d{3}\.csv\.gz(\.part)?")


@dataclass
class SyncReport:
    """What a sync (or :func:`download_many`) did, each list in listing order."""

    downloaded: list[ExportFile] = field(default_factory=list)
    skipped: list[ExportFile] = field(default_factory=list)
    failed: list[tuple[ExportFile, ClientError]] = field(default_factory=list)
    #: parts no longer listed for a view that was listed (an export rebuilt with fewer parts)
    removed: list[Path] = field(default_factory=list)


class Manifest:
    """``root/.pullstats-sync.json``: what sync completed, so an untouched file is trusted.

    A file is trusted when its size and mtime are those recorded and the listing still names
    the recorded size and SHA-256. A damaged or missing manifest only costs a full check.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / MANIFEST
        self.files: dict[str, dict[str, Any]] = {}
        try:
            body = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        files = body.get("files") if isinstance(body, dict) else None
        if isinstance(files, dict):
            self.files = {k: v for k, v in files.items() if isinstance(v, dict)}

    def _key(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def trusted(self, path: Path, file: ExportFile) -> bool:
        entry = self.files.get(self._key(path))
        if entry is None:
            return False
        stat = path.stat()
        return (
            entry.get("size") == stat.st_size == file.size
            and entry.get("mtime_ns") == stat.st_mtime_ns
            and (file.sha256 is None or entry.get("sha256") == file.sha256.lower())
        )

    def record(self, path: Path, sha256: str) -> None:
        stat = path.stat()
        self.files[self._key(path)] = {
            "size": stat.st_size,
            "sha256": sha256,
            "mtime_ns": stat.st_mtime_ns,
        }

    def forget(self, path: Path) -> None:
        self.files.pop(self._key(path), None)

    def save(self) -> None:
        body = {"version": 1, "files": dict(sorted(self.files.items()))}
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")


def sync(
    client: DvpClient,
    namespace: str,
    root: Path,
    *,
    timespantypes: Iterable[Timespan] = (Timespan.MONTHS, Timespan.WEEKS),
    views: Iterable[Dataview] = tuple(Dataview),
    since: str | date | None = None,
    verify: bool = False,
    workers: int = WORKERS,
    progress: Progress | None = None,
    datasets: Iterable[Dataset] = (Dataset.PULLS,),
) -> SyncReport:
    """Make ``root`` hold every listed export file of ``namespace``, whole; a second run with
    nothing new downloads nothing.

    ``datasets`` are walked one after the other: ``views`` chooses among the ``pulls``
    dataviews, a report dataset brings its one report. A server without a report dataset
    asked for (Docker Hub) raises ``DatasetNotServed`` before anything is downloaded.
    ``since`` (``YYYY-MM`` or a date) keeps periods ending on or after its first day.
    ``verify`` checks every file in full instead of trusting the manifest. A file that fails
    its check is deleted before it is fetched again, so a view never mixes parts of two
    exports; a failure is reported in ``failed`` and the rest go on. Run one sync per root at
    a time.
    """
    manifest = Manifest(root)
    report = SyncReport()
    wanted: list[ExportFile] = []
    listed: dict[Path, set[str]] = {}
    kinds, first = tuple(timespantypes), since_day(since)
    for file in _listing(client, namespace, kinds, tuple(views), first, datasets):
        path = local_path(root, file)
        listed.setdefault(path.parent, set()).add(path.name)
        if _complete(path, file, manifest, verify):
            report.skipped.append(file)
        else:
            wanted.append(file)
    report.removed = _prune(listed, manifest)
    _download_all(client, wanted, root, manifest, report, workers, progress)
    return report


def download_many(
    http: DvpClient | httpx.Client,
    files: Iterable[ExportFile],
    root: Path,
    *,
    workers: int = WORKERS,
    progress: Progress | None = None,
) -> SyncReport:
    """Download ``files`` into ``root``'s layout on ``workers`` threads, recording each in the
    manifest; one failure never stops the others. With a ``DvpClient``, a link that expired
    while it waited (403) is asked for again once."""
    report = SyncReport()
    _download_all(http, list(files), root, Manifest(root), report, workers, progress)
    return report


def _listing(
    client: DvpClient,
    namespace: str,
    timespantypes: tuple[Timespan, ...],
    views: tuple[Dataview, ...],
    since: date | None,
    datasets: Iterable[Dataset],
) -> Iterable[ExportFile]:
    for dataset in dict.fromkeys(Dataset(one) for one in datasets):
        chosen = views if dataset is Dataset.PULLS else None  # a report has one view
        yield from client.export_files(
            namespace, timespantypes=timespantypes, views=chosen, since=since, dataset=dataset
        )


def _complete(path: Path, file: ExportFile, manifest: Manifest, verify: bool) -> bool:
    if not path.exists():
        return False
    if not verify and manifest.trusted(path, file):
        return True
    try:
        sha256 = check(path, file)
    except CorruptDownload:
        path.unlink()
        manifest.forget(path)
        return False
    manifest.record(path, sha256)
    return True


def _prune(listed: dict[Path, set[str]], manifest: Manifest) -> list[Path]:
    removed = []
    for folder, names in listed.items():
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if _PART_NAME.fullmatch(path.name) and path.name.removesuffix(PART_SUFFIX) not in names:
                path.unlink()
                manifest.forget(path)
                removed.append(path)
    return removed


class _Stopped(Exception):
    """Raised in a download's thread at its next chunk once the run was interrupted."""


def _download_all(
    http: DvpClient | httpx.Client,
    files: list[ExportFile],
    root: Path,
    manifest: Manifest,
    report: SyncReport,
    workers: int,
    progress: Progress | None,
) -> None:
    # one thread per destination: a file listed twice must not be written by two at once
    unique: dict[Path, ExportFile] = {}
    for file in files:
        unique.setdefault(local_path(root, file), file)
    files = list(unique.values())
    order = {file: index for index, file in enumerate(files)}
    stop = threading.Event()

    def chunk_written(file: ExportFile, position: int) -> None:
        if stop.is_set():
            raise _Stopped
        if progress is not None:
            progress(file, position)

    try:
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="pullstats-download") as pool:
            futures: dict[Future[str], ExportFile] = {}
            try:  # a Ctrl-C while the downloads are submitted must stop them too
                for file in files:
                    future = pool.submit(_one, http, file, local_path(root, file), chunk_written)
                    futures[future] = file
                for done, future in enumerate(as_completed(futures), 1):
                    file = futures[future]
                    try:
                        sha256 = future.result()
                    except ClientError as exc:
                        report.failed.append((file, exc))
                        continue
                    except OSError as exc:  # this machine's side (a full disk): ends the run
                        raise _named(exc, local_path(root, file)) from exc
                    manifest.record(local_path(root, file), sha256)
                    report.downloaded.append(file)
                    if done % 64 == 0:  # an interrupted run keeps most of what it finished
                        manifest.save()
            except BaseException:
                # Ctrl-C: start nothing new, and stop what runs at its next chunk (the pool
                # waits for its threads); .part files stay, to be continued
                stop.set()
                for future in futures:
                    future.cancel()
                raise
    except BaseException:
        # keep what finished; a save that fails too (a read-only folder) must not hide why
        with contextlib.suppress(OSError):
            manifest.save()
        raise
    manifest.save()
    report.downloaded.sort(key=order.__getitem__)
    report.failed.sort(key=lambda pair: order[pair[0]])


def _named(error: OSError, dest: Path) -> OSError:
    """``error`` naming the file it was writing when it names none (a write to a full disk):
    the others would fail alike, so it ends the run, saying where."""
    if error.filename is not None:
        return error
    return OSError(error.errno, error.strerror, str(dest.with_name(dest.name + PART_SUFFIX)))


def _one(
    http: DvpClient | httpx.Client, file: ExportFile, dest: Path, progress: Progress | None
) -> str:
    try:
        return download(http, file, dest, progress=progress)
    except Forbidden:
        if not isinstance(http, DvpClient):
            raise
        # signed links live minutes: one that expired while it waited its turn gets a new one
        return download(http, _fresh(http, file), dest, progress=progress)


def _fresh(client: DvpClient, file: ExportFile) -> ExportFile:
    listed = client.view_files(
        file.namespace,
        file.year,
        file.timespantype,
        file.timespan,
        file.dataview,
        dataset=file.dataset,
    )
    if len(listed) < file.part:
        raise Forbidden(f"{file.label}: no longer listed", 403)
    link = listed[file.part - 1]
    return replace(file, url=link.url, size=link.size, sha256=link.sha256)
