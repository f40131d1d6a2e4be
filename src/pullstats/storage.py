"""Where the lake and the exports are kept: a local folder, or ``s3://bucket/prefix``.

Both kinds of store offer just what the stages need, addressed by *keys*: ``/``-separated paths
relative to the store's root (``requests/day=2024-05-01/part-x.parquet``).

- listing: :meth:`Store.files` (every file under a folder, recursively) and
  :meth:`Store.folders` (the folders directly under one); on S3 one ``ListObjectsV2`` walk of
  that prefix, never of the bucket;
- :meth:`Store.publish`: a file written and closed in the local tmp dir becomes visible under its
  key in one step (local: ``rename``; S3: one ``PUT``, or a multipart upload that only appears
  when it is completed), so a reader sees the whole file or none;
- :meth:`Store.location`: what DuckDB reads (a path, or an ``s3://`` URL read through the
  fsspec filesystem :attr:`Store.filesystem` registered on the connection);
- :meth:`Store.presign`: a download URL that works without our server (S3 only).

Endpoint, region and credentials of S3 come from the standard AWS settings
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, a
profile…), read by botocore; pullstats never sees them as its own settings.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from pullstats.atomic_files import fsync_dir

T = TypeVar("T")


class StorageError(RuntimeError):
    """A store cannot be used (missing bucket, refused credentials, unreachable endpoint); the
    message is one line naming the setting to fix."""


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

    def delete_folder(self, folder: str) -> int:
        """Delete every file under ``folder``; how many there were."""
        keys = self.files(folder)
        self.delete(keys)
        return len(keys)

    def write_bytes(self, key: str, data: bytes, staging: Path) -> None:
        """Publish ``data`` as ``key``, staged as a file in the local folder ``staging``."""
        staging.mkdir(parents=True, exist_ok=True)
        staged = staging / f".{key.replace('/', '_')}.{os.getpid()}.tmp"
        try:
            staged.write_bytes(data)
            self.publish(staged, key)
        finally:
            staged.unlink(missing_ok=True)


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
        os.replace(staged, final)
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


class S3Store(Store):
    """Objects under ``s3://bucket/prefix``, through s3fs (the fsspec S3 filesystem)."""

    def __init__(self, url: str, setting: str) -> None:
        self.url = url.rstrip("/")
        self.setting = setting
        self.bucket, _, self.prefix = self.url.removeprefix("s3://").partition("/")
        self.prefix = self.prefix.strip("/")
        if not self.bucket:
            raise StorageError(f"{setting}={url}: no bucket named, e.g. s3://bucket/prefix")
        self._fs: Any = None

    def __repr__(self) -> str:
        return f"S3Store({self.url!r})"

    @property
    def filesystem(self) -> Any:
        if self._fs is None:
            import s3fs  # type: ignore[import-untyped]  # only installations on object storage pay for importing it

            # SigV4 presigned URLs (every region accepts them); a few quick retries, so that
            # an endpoint that is down is reported in seconds, not minutes
            self._fs = s3fs.S3FileSystem(
                config_kwargs={
                    "signature_version": "s3v4",
                    "connect_timeout": 5,
                    "retries": {"max_attempts": 2, "mode": "standard"},
                },
                use_listings_cache=False,
                skip_instance_cache=True,
            )
        return self._fs

    def _path(self, key: str) -> str:
        return join(self.bucket, self.prefix, key)

    def location(self, key: str) -> str:
        return "s3://" + self._path(key)

    def _key(self, path: str) -> str:
        return path.removeprefix(join(self.bucket, self.prefix) + "/")

    def files(self, folder: str, suffix: str = "") -> list[str]:
        # fs.find: ListObjectsV2 of this prefix, no delimiter (a page per 1000 keys)
        found = self._call(lambda: self.filesystem.find(self._path(folder) + "/"))
        return sorted(self._key(path) for path in found if path.endswith(suffix))

    def folders(self, folder: str) -> list[str]:
        # ListObjectsV2 with delimiter "/": the common prefixes directly under folder
        def listing() -> list[dict[str, Any]]:
            try:
                return list(self.filesystem.ls(self._path(folder) + "/", detail=True))
            except FileNotFoundError:
                return []

        return sorted(
            entry["name"].rstrip("/").rsplit("/", 1)[-1]
            for entry in self._call(listing)
            if entry["type"] == "directory"
        )

    def exists(self, key: str) -> bool:
        return bool(self._call(lambda: self.filesystem.isfile(self._path(key))))

    def size_of(self, location: str) -> int:
        return int(self._call(lambda: self.filesystem.size(location)))

    def read_bytes(self, key: str) -> bytes:
        return bytes(self._call(lambda: self.filesystem.cat_file(self._path(key))))

    def publish(self, staged: Path, key: str) -> None:
        # one PUT, or for a large file a multipart upload that S3 shows only once it is
        # completed: a reader sees the whole object or no object
        self._call(lambda: self.filesystem.put_file(str(staged), self._path(key)))
        staged.unlink(missing_ok=True)

    def move(self, key: str, new_key: str) -> None:
        source, target = self._path(key), self._path(new_key)
        self._call(lambda: self.filesystem.copy(source, target))
        self._call(lambda: self.filesystem.rm(source))

    def open(self, key: str) -> BinaryIO:
        handle: BinaryIO = self._call(lambda: self.filesystem.open(self._path(key), "rb"))
        return handle

    def delete(self, keys: list[str]) -> None:
        if keys:  # DeleteObjects, a call per 1000 keys
            self._call(lambda: self.filesystem.rm([self._path(key) for key in keys]))

    def presign(self, key: str, seconds: int, file_name: str | None = None) -> str:
        # signed locally (no request to the store); SigV4 allows at most 7 days
        extra = {}
        if file_name is not None:
            extra["ResponseContentDisposition"] = f'attachment; filename="{file_name}"'
        path = self._path(key)
        return str(self._call(lambda: self.filesystem.sign(path, expiration=seconds, **extra)))

    def check(self) -> None:
        self._call(
            lambda: self.filesystem.call_s3(
                "list_objects_v2", Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1
            )
        )

    def _call(self, action: Callable[[], T]) -> T:
        """``action``'s result; what botocore and s3fs raise about the store (bucket,
        credentials, endpoint) becomes a :class:`StorageError` naming the setting."""
        try:
            return action()
        except StorageError:
            raise
        except Exception as error:
            message = s3_error_message(self, error)
            if message is None:
                raise
            raise StorageError(message) from error


def s3_error_message(store: S3Store, error: BaseException) -> str | None:
    """One line naming the setting to fix, or None for an error that is not the store's."""
    import botocore.exceptions as boto  # type: ignore[import-untyped]

    where = f"{store.setting}={store.url}"
    text = " ".join(str(error).split())
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or "the default AWS endpoint"
    if isinstance(error, boto.EndpointConnectionError | boto.ConnectTimeoutError):
        return f"AWS_ENDPOINT_URL: {endpoint} cannot be reached for {where} ({text})"
    if isinstance(error, boto.NoCredentialsError | boto.PartialCredentialsError):
        return f"{where}: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if isinstance(error, boto.NoRegionError):
        return f"{where}: no AWS region: set AWS_REGION"
    code = _error_code(error)
    if code in {"NoSuchBucket"} or "bucket does not exist" in text.lower():
        return f"{where}: bucket {store.bucket!r} does not exist at {endpoint}; create it first"
    if isinstance(error, FileNotFoundError):
        return None  # a missing key: the caller's to handle
    if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"} or (
        isinstance(error, PermissionError)
    ):
        return (
            f"{where}: the AWS credentials were refused (AWS_ACCESS_KEY_ID / "
            f"AWS_SECRET_ACCESS_KEY): {text}"
        )
    if isinstance(error, OSError | boto.BotoCoreError):
        return f"{where}: {type(error).__name__}: {text}"
    return None


def _error_code(error: BaseException) -> str | None:
    for item in (error, error.__cause__, error.__context__):
        response = getattr(item, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if code is not None:
                return str(code)
    return None


def open_store(url: str | None, default: Path, setting: str) -> Store:
    """The store a ``PULLSTATS_*_URL`` setting names: ``s3://bucket/prefix``, a local folder,
    or (unset) ``default``."""
    if url is None or not url.strip():
        return LocalStore(default, setting)
    url = url.strip()
    if url.startswith("s3://"):
        return S3Store(url, setting)
    if "://" in url:
        raise StorageError(f"{setting}={url}: expected s3://bucket/prefix or a local folder")
    return LocalStore(Path(url).expanduser().resolve(), setting)
