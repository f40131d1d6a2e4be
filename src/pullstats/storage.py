"""Where the lake and the exports are kept: a local folder, or ``s3://bucket/prefix``.

Both kinds of store offer just what the stages need, addressed by *keys*: ``/``-separated paths
relative to the store's root (``requests/day=2024-05-01/part-x.parquet``).

- listing: :meth:`Store.files` (every file under a folder, recursively) and
  :meth:`Store.folders` (the folders directly under one); on S3 one ``ListObjectsV2`` walk of
  that prefix, never of the bucket. While :meth:`Store.holding_listings` (the job lock), what a
  listing found answers a reader's questions about those files (size, time) without a request
  each (:mod:`pullstats.s3_files`);
- :meth:`Store.publish`: a file written and closed in the local tmp dir becomes visible under its
  key in one step (local: ``rename``, or on another filesystem a copy beside it renamed; S3: one
  ``PUT``, or a multipart upload that only appears when it is completed), so a reader sees the
  whole file or none;
- :meth:`Store.location`: what DuckDB reads (a path, or an ``s3://`` URL read through the
  fsspec filesystem :attr:`Store.filesystem` registered on the connection);
- :meth:`Store.presign`: a download URL that works without our server (S3 only).

Endpoint, region and credentials of S3 come from the standard AWS settings
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, a
profile…), read by botocore; pullstats never sees them as its own settings. Its own
``PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL`` is where the exports' presigned URLs point instead of
``AWS_ENDPOINT_URL``, when publishers reach the store at another address than the servers.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from pullstats.atomic_files import fsync_dir


class StorageError(RuntimeError):
    """A store cannot be used (missing bucket, refused credentials, unreachable endpoint); the
    message is one line naming the setting to fix."""


class StoreUnusable(StorageError):
    """Whatever a job asks of the store next fails alike, so a job that goes on past one
    item's failure (``export``, a period at a time) stops at this one, with its line, rather
    than reporting each item's failure in turn."""


class StoreUnreachable(StoreUnusable):
    """The store does not answer at all: no connection can be made to it, or none of its
    answers came in time."""


class StoreRefuses(StoreUnusable):
    """The store answers that none of its files will do: its bucket is gone, or it does not
    know the credentials (keys rotated, a typo). A refusal of one file (``AccessDenied``: a
    policy may deny one prefix) is a :class:`StorageError` only."""


class Store(ABC):
    """A local folder or an S3 prefix holding files under ``/``-separated keys."""

    #: the setting that named this store (``PULLSTATS_LAKE_URL``), for messages
    setting: str

    @property
    def filesystem(self) -> Any:
        """The fsspec filesystem a DuckDB connection must have registered to read
        :meth:`location` (None: plain local paths)."""
        return None

    @property
    def remote(self) -> bool:
        return self.filesystem is not None

    @abstractmethod
    def location(self, key: str) -> str:
        """Where a reader (DuckDB, Spark) finds ``key``: a path or an ``s3://`` URL."""

    @abstractmethod
    def files(self, folder: str, suffix: str = "") -> list[str]:
        """The keys of every file under ``folder`` whose name ends with ``suffix``, sorted."""

    @abstractmethod
    def folders(self, folder: str) -> list[str]:
        """The names of the folders directly under ``folder``, sorted."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def size_of(self, location: str) -> int:
        """The size in bytes of the file at ``location`` (as :meth:`location` gave it)."""

    def local_path(self, key: str) -> Path | None:
        """``key``'s path when the store is a local folder (None on object storage)."""
        return None

    @abstractmethod
    def read_bytes(self, key: str) -> bytes:
        """``key``'s content; FileNotFoundError when there is none."""

    @abstractmethod
    def publish(self, staged: Path, key: str) -> None:
        """Make the closed local file ``staged`` visible under ``key`` in one step, replacing
        what was there; ``staged`` is gone afterwards."""

    @abstractmethod
    def move(self, key: str, new_key: str) -> None:
        """Give ``key``'s file the key ``new_key`` (S3: a server-side copy, then a delete)."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """``key``'s content as a seekable binary file (S3: read by ranges as needed)."""

    @abstractmethod
    def delete(self, keys: list[str]) -> None:
        """Delete ``keys`` (missing ones are no error)."""

    @abstractmethod
    def presign(self, key: str, seconds: int, file_name: str | None = None) -> str | None:
        """A URL that downloads ``key`` for ``seconds`` (as an attachment named ``file_name``);
        None where the store has none (local)."""

    @abstractmethod
    def check(self) -> None:
        """Raise :class:`StorageError` unless the store can be listed now."""

    def probe(self, key: str) -> None:
        """Raise :class:`StorageError` unless the store answers one cheap request about
        ``key`` within a short bound, and holds ``key`` (the store's description, there since
        the server started): ``/healthz``'s look at a store on object storage. Local folders:
        nothing (``/healthz`` writes to the disk)."""
        return None

    def failure_in(self, message: str) -> StoreUnreachable | None:
        """The store's failure that a reader's ``message`` reports (DuckDB's error about a read
        through :attr:`filesystem`, which holds the text of what the filesystem raised, not the
        exception), as the store's own error; None when it reports none (local folders)."""
        return None

    @contextlib.contextmanager
    def holding_listings(self) -> Iterator[None]:
        """While the block runs, a file a listing found is known by that listing: readers
        (DuckDB opening it, :meth:`size_of`) ask the store nothing more about it. For a block
        in which no other process writes the store (the job lock): the store forgets a key it
        writes itself, but not one another process rewrites. Local folders need nothing."""
        yield

    def delete_folder(self, folder: str) -> int:
        """Delete every file under ``folder``; how many there were."""
        keys = self.files(folder)
        self.delete(keys)
        return len(keys)

    def write_bytes(self, key: str, data: bytes, staging: Path) -> None:
        """Publish ``data`` as ``key``, staged as a file in the local folder ``staging``."""
        staging.mkdir(parents=True, exist_ok=True)
        # a name of this call's own: two threads of one process may write the same key
        staged = staging / f".{key.replace('/', '_')}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            staged.write_bytes(data)
            self.publish(staged, key)
        finally:
            staged.unlink(missing_ok=True)


def unreachable_in(error: BaseException, store: Store) -> StoreUnreachable | None:
    """``error`` as the failure of a store that does not answer: itself, or the one ``store``
    finds in its text (:meth:`Store.failure_in`: DuckDB's error about a read through it);
    None when it reports no such failure."""
    if isinstance(error, StoreUnreachable):
        return error
    return store.failure_in(str(error)) if isinstance(error, Exception) else None


def join(*parts: str) -> str:
    """Keys joined with ``/`` (empty parts left out)."""
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


class LocalStore(Store):
    """Files under a local folder (the default: the data dir's ``lake`` and ``exports``)."""

    def __init__(self, root: Path, setting: str) -> None:
        self.root = root
        self.setting = setting

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def path(self, key: str) -> Path:
        return self.root / key if key else self.root

    def location(self, key: str) -> str:
        return str(self.path(key))

    def files(self, folder: str, suffix: str = "") -> list[str]:
        base = self.path(folder)
        if not base.is_dir():
            return []
        found = []
        for path in _walk(base):
            name = path.name
            if name.endswith(suffix) and not name.startswith("."):  # ".x.tmp": being written
                found.append(path.relative_to(self.root).as_posix())
        return sorted(found)

    def folders(self, folder: str) -> list[str]:
        base = self.path(folder)
        if not base.is_dir():
            return []
        return sorted(child.name for child in base.iterdir() if child.is_dir())

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size_of(self, location: str) -> int:
        return Path(location).stat().st_size

    def local_path(self, key: str) -> Path | None:
        return self.path(key)

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def publish(self, staged: Path, key: str) -> None:
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(staged, "rb") as handle:
            os.fsync(handle.fileno())
        try:
            os.replace(staged, final)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            _copy_across(staged, final)
        fsync_dir(final.parent)

    def move(self, key: str, new_key: str) -> None:
        final = self.path(new_key)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path(key), final)
        fsync_dir(final.parent)
        _remove_empty(self.path(key).parent, self.root)

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def delete(self, keys: list[str]) -> None:
        folders = set()
        for key in keys:
            path = self.path(key)
            path.unlink(missing_ok=True)
            folders.add(path.parent)
        for folder in sorted(folders, key=lambda item: len(item.parts), reverse=True):
            _remove_empty(folder, self.root)

    def presign(self, key: str, seconds: int, file_name: str | None = None) -> str | None:
        return None

    def check(self) -> None:
        return None  # created on first write, like the rest of the data dir


class StoreFile:
    """One small JSON file at a store's root (the lake's ``_meta.json``, the exports'
    ``_exports.json``) as one start-up sees it: read once however many checks ask (on S3 each
    read is a request), and kept up to date by what the start-up writes there."""

    def __init__(self, store: Store, name: str, refused: Callable[[str], Exception]) -> None:
        self.store = store
        self.name = name
        self._refused = refused  # the error of a file that cannot be read, from its line
        self._data: bytes | None = None
        self._read = False

    @property
    def path(self) -> str:
        return self.store.location(self.name)

    def data(self) -> bytes | None:
        """The file's content; None when there is none."""
        if not self._read:
            try:
                self._data = self.store.read_bytes(self.name)
            except FileNotFoundError:
                self._data = None
            except OSError as error:
                raise self._refused(f"{self.path}: cannot be read ({error})") from None
            self._read = True
        return self._data

    def write_json(self, meta: dict[str, Any], staging: Path) -> None:
        data = (json.dumps(meta, indent=2) + "\n").encode("utf-8")
        self.store.write_bytes(self.name, data, staging)
        self._data, self._read = data, True


def _copy_across(staged: Path, final: Path) -> None:
    """Move ``staged`` to ``final`` on another filesystem (a store on a shared mount, staged in
    the data dir's ``tmp``), whole or not at all: copied beside ``final`` under a name listings
    skip, then renamed over it."""
    beside = final.parent / f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        shutil.copyfile(staged, beside)
        with open(beside, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(beside, final)
    finally:
        beside.unlink(missing_ok=True)
    staged.unlink()


def _walk(base: Path) -> Iterator[Path]:
    for dirpath, _dirnames, filenames in os.walk(base):
        for name in filenames:
            yield Path(dirpath) / name


def _remove_empty(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents up to ``root`` while they are empty."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone)
            return
        folder = folder.parent
