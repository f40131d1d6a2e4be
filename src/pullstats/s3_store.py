"""Objects under ``s3://bucket/prefix``: the :class:`~pullstats.storage.Store` of a lake or of the
exports on S3-compatible object storage, through s3fs (:mod:`pullstats.s3_files`), and what
botocore and s3fs raise about it as one line naming the setting to fix (:func:`s3_error_message`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from pullstats.setting_values import duration_text
from pullstats.storage import StorageError, Store, StoreRefuses, StoreUnreachable, join

T = TypeVar("T")

#: botocore's errors of an endpoint that never answers or cannot be reached, in the text of a
#: traceback (DuckDB's error about a read through s3fs): the exception's name and its URL
_PASSED_ON = re.compile(
    r"\b(ReadTimeoutError|ConnectTimeoutError|EndpointConnectionError|ConnectionClosedError): "
    r'[^"\n]*"([^"\n]+)"'
)


#: ``PULLSTATS_S3_TIMEOUT`` unless set: twice the 15 s s3fs waited before, so that a slow
#: answer that came in time then (a CompleteMultipartUpload the server assembles before it
#: says a word) still does.
DEFAULT_TIMEOUT = timedelta(seconds=30)

#: The most requests one call sends: botocore's first attempt and one retry.
ATTEMPTS = 2

#: How long ``/healthz``'s look at a store (:meth:`S3Store.probe`) waits to connect, then for
#: the answer, in its one request: a load balancer's check must not wait a job's timeout.
PROBE_TIMEOUT = timedelta(seconds=2)


class S3Store(Store):
    """Objects under ``s3://bucket/prefix``, through s3fs (the fsspec S3 filesystem)."""

    def __init__(
        self,
        url: str,
        setting: str,
        presign_endpoint: str | None = None,
        timeout: timedelta = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = url.rstrip("/")
        self.setting = setting
        #: the longest wait for each read of an answer (``PULLSTATS_S3_TIMEOUT``)
        self.timeout = timeout
        #: where presigned URLs point (``PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL``); None: at
        #: ``AWS_ENDPOINT_URL``, the endpoint every request of ours goes to
        self.presign_endpoint = presign_endpoint
        self._signer: Any = None
        self.bucket, _, self.prefix = self.url.removeprefix("s3://").partition("/")
        self.prefix = self.prefix.strip("/")
        if not self.bucket:
            raise StorageError(f"{setting}={url}: no bucket named, e.g. s3://bucket/prefix")
        self._fs: Any = None
        self._prober: Any = None  # the filesystem of probe(), with its short timeout
        #: the listed files (``bucket/key`` → the listing's entry) while listings are held
        self._listed: dict[str, dict[str, Any]] = {}
        self._holding = 0

    def __repr__(self) -> str:
        return f"S3Store({self.url!r})"

    @property
    def filesystem(self) -> Any:
        if self._fs is None:
            # only installations on object storage pay for importing s3fs
            from pullstats.s3_files import ListedS3FileSystem, s3fs_options

            self._fs = ListedS3FileSystem(self._listed, **s3fs_options(self.timeout, ATTEMPTS))
        return self._fs

    @property
    def signer(self) -> Any:
        """The filesystem that presigns: :attr:`filesystem`, or one of its own for the public
        endpoint. Signing is local: that one never sends a request."""
        if self.presign_endpoint is None:
            return self.filesystem
        if self._signer is None:
            import s3fs  # type: ignore[import-untyped]

            from pullstats.s3_files import s3fs_options

            self._signer = s3fs.S3FileSystem(
                endpoint_url=self.presign_endpoint, **s3fs_options(self.timeout, ATTEMPTS)
            )
        return self._signer

    def _path(self, key: str) -> str:
        return join(self.bucket, self.prefix, key)

    def location(self, key: str) -> str:
        return "s3://" + self._path(key)

    def _key(self, path: str) -> str:
        return path.removeprefix(join(self.bucket, self.prefix) + "/")

    @contextlib.contextmanager
    def holding_listings(self) -> Iterator[None]:
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
            if not self._holding:
                self._listed.clear()

    def files(self, folder: str, suffix: str = "") -> list[str]:
        # fs.find: ListObjectsV2 of "<folder>/", no delimiter (a page per 1000 keys), each
        # file with its size, time and ETag. Asked as the parent and a prefix, as s3fs would
        # otherwise send a HEAD of the folder's own key whenever the listing is empty.
        parent, _, name = self._path(folder).rpartition("/")
        found: dict[str, dict[str, Any]] = self._call(
            lambda: (
                self.filesystem.find(parent, prefix=name + "/", detail=True)
                if parent
                else self.filesystem.find(self._path(folder) + "/", detail=True)
            )
        )
        if self._holding:
            self._listed.update(
                (path, entry) for path, entry in found.items() if entry.get("type") == "file"
            )
        return sorted(self._key(path) for path in found if path.endswith(suffix))

    @contextlib.contextmanager
    def _writing(self, keys: list[str]) -> Iterator[None]:
        """Drop what the listings said of ``keys``, which the block writes: before it, and
        after it too, as another thread of the job may list them meanwhile."""
        self._forget(keys)
        try:
            yield
        finally:
            self._forget(keys)

    def _forget(self, keys: list[str]) -> None:
        for key in keys:
            self._listed.pop(self._path(key), None)

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
        with self._writing([key]):
            self._call(lambda: self.filesystem.put_file(str(staged), self._path(key)))
        staged.unlink(missing_ok=True)

    def move(self, key: str, new_key: str) -> None:
        source, target = self._path(key), self._path(new_key)
        with self._writing([key, new_key]):
            self._call(lambda: self.filesystem.copy(source, target))
            self._call(lambda: self.filesystem.rm(source))

    def open(self, key: str) -> BinaryIO:
        handle: BinaryIO = self._call(lambda: self.filesystem.open(self._path(key), "rb"))
        return handle

    def delete(self, keys: list[str]) -> None:
        if keys:  # DeleteObjects, a call per 1000 keys
            with self._writing(keys):
                self._call(lambda: self.filesystem.rm([self._path(key) for key in keys]))

    def presign(self, key: str, seconds: int, file_name: str | None = None) -> str:
        # signed locally (no request to the store); SigV4 allows at most 7 days
        extra = {}
        if file_name is not None:
            extra["ResponseContentDisposition"] = f'attachment; filename="{file_name}"'
        path = self._path(key)
        return str(self._call(lambda: self.signer.sign(path, expiration=seconds, **extra)))

    def check(self) -> None:
        def listing() -> None:
            try:
                self.filesystem.call_s3(
                    "list_objects_v2", Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1
                )
            except FileNotFoundError as error:
                # a 404 that names no missing bucket: a listing has no key to miss, so not an
                # S3 server (a web server, another service on that port) or not this bucket
                raise StorageError(
                    f"{self.setting}={self.url}: {_named(endpoint_named())} answered 404 to a "
                    f"listing of bucket {self.bucket!r}: is it an S3 server, and does the "
                    f"bucket exist there? ({' '.join(str(error).split())})"
                ) from error

        self._call(listing)

    def probe(self, key: str) -> None:
        # a HEAD: the cheapest request S3 answers, and one that needs no listing permission.
        # The key is the store's description, which the server wrote or read as it started
        # (Runtime.open): a 404 means the bucket, or the store's files, are gone since, and S3
        # answers a HEAD of a deleted bucket's key with the same 404 as a missing key
        if self._prober is None:
            from pullstats.s3_files import ListedS3FileSystem, s3fs_options

            options = s3fs_options(PROBE_TIMEOUT, 1, PROBE_TIMEOUT.total_seconds())
            # a connection of its own each time: sent once, a request on a kept-alive
            # connection the server has closed meanwhile would fail a store that is up
            options["config_kwargs"]["connector_args"] = {
                "force_close": True,
                "keepalive_timeout": None,  # aiohttp refuses one with force_close
            }
            self._prober = ListedS3FileSystem({}, **options)
        path = join(self.prefix, key)

        def head() -> None:
            try:
                self._prober.call_s3("head_object", Bucket=self.bucket, Key=path)
            except FileNotFoundError as error:
                raise StorageError(
                    f"{self.setting}={self.url}: its {key} is not there at {endpoint_named()} "
                    "(nor, perhaps, the bucket): the store's files are gone since the server "
                    f"started; restore them, or point {self.setting} at the installation's store"
                ) from error

        self._call(head, probe=True)

    def failure_in(self, message: str) -> StoreUnreachable | None:
        # DuckDB passes on what s3fs raised as the text of its traceback, ending in botocore's
        # "ReadTimeoutError: Read timeout on endpoint URL: "…"": the same error again, for the
        # same line as any other request's
        import botocore.exceptions as boto  # type: ignore[import-untyped]

        match = _PASSED_ON.search(message)
        if match is None:
            return None
        name, url = match.groups()
        line = s3_error_message(self, getattr(boto, name)(endpoint_url=url))
        return StoreUnreachable(line) if line is not None else None

    def _call(self, action: Callable[[], T], *, probe: bool = False) -> T:
        """``action``'s result; what botocore and s3fs raise about the store (bucket,
        credentials, endpoint) becomes a :class:`StorageError` naming the setting. ``probe``:
        the action is :meth:`probe`'s one request, bounded by :data:`PROBE_TIMEOUT`."""
        try:
            return action()
        except StorageError:
            raise
        except Exception as error:
            message = s3_error_message(self, error, probe=probe)
            if message is None:
                raise
            if isinstance(error, _unreachable()):
                raise StoreUnreachable(message) from error
            if _error_code(error) in _REFUSES_EVERY_FILE:
                raise StoreRefuses(message) from error
            raise StorageError(message) from error


#: S3 error codes that no request to the store would escape: the bucket, or the credentials
_REFUSES_EVERY_FILE = frozenset({"NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch"})


def _unreachable() -> tuple[type[BaseException], ...]:
    """What botocore and s3fs raise about a store that does not answer at all (the errors
    whose line is "cannot be reached" or "no answer"): a :class:`StoreUnreachable`."""
    import botocore.exceptions as boto

    return (
        boto.EndpointConnectionError,
        boto.ConnectTimeoutError,
        boto.ConnectionClosedError,  # gone while a request was sent, before any answer
        boto.ReadTimeoutError,
        TimeoutError,
    )


#: the variables botocore takes the S3 endpoint from, the one it prefers first
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


def endpoint_variable() -> str:
    """The variable that sets the S3 server of a store's requests: the one botocore reads
    (``AWS_ENDPOINT_URL_S3`` before ``AWS_ENDPOINT_URL``), or the latter when neither is set."""
    return next(
        (name for name in ENDPOINT_VARIABLES if os.environ.get(name)), ENDPOINT_VARIABLES[1]
    )


def endpoint_named() -> str:
    """The S3 server a store's requests go to, as an error line names it."""
    return os.environ.get(endpoint_variable()) or "the default AWS endpoint"


def s3_error_message(store: S3Store, error: BaseException, *, probe: bool = False) -> str | None:
    """One line naming the setting to fix, or None for an error that is not the store's.
    ``probe``: the error of :meth:`S3Store.probe`'s one request, whose wait is not the
    jobs' ``PULLSTATS_S3_TIMEOUT``."""
    import botocore.exceptions as boto

    where = f"{store.setting}={store.url}"
    text = " ".join(str(error).split())
    endpoint = endpoint_named()
    if isinstance(
        error,
        boto.EndpointConnectionError | boto.ConnectTimeoutError | boto.ConnectionClosedError,
    ):
        return f"{endpoint_variable()}: {endpoint} cannot be reached for {where} ({text})"
    if isinstance(error, boto.ReadTimeoutError | TimeoutError) and probe:
        return (
            f"{where}: no answer from {_named(endpoint)} within {duration_text(PROBE_TIMEOUT)}: "
            f"check that S3 server ({text})"
        )
    if isinstance(error, boto.ReadTimeoutError | TimeoutError):
        return (
            f"{where}: no answer from {_named(endpoint)} within "
            f"PULLSTATS_S3_TIMEOUT={duration_text(store.timeout)} (each request is sent at most "
            f"{ATTEMPTS} times): check that S3 server, or raise PULLSTATS_S3_TIMEOUT if it is "
            f"only slow ({text})"
        )
    if isinstance(error, ValueError) and text.startswith("Invalid endpoint"):
        return (
            f"{endpoint_variable()}={endpoint}: not a URL of an S3 server for {where}: give its "
            "scheme too (http://host:port or https://…)"
        )
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


def _named(endpoint: str) -> str:
    return endpoint if endpoint.startswith("the ") else f"{endpoint_variable()} {endpoint}"


def _error_code(error: BaseException) -> str | None:
    for item in (error, error.__cause__, error.__context__):
        response = getattr(item, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if code is not None:
                return str(code)
    return None
