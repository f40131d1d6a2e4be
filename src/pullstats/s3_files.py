"""The S3 filesystem that :class:`pullstats.s3_store.S3Store` lists, publishes and DuckDB reads
through: s3fs, whose answer about a file (its size, time and ETag) comes from the store's last
listing while the store holds its listings (:meth:`~pullstats.s3_store.S3Store.holding_listings`).

Without this, DuckDB asks s3fs about a Parquet file about fourteen times for each query that
reads it (a glob, then each thread's open, size and modified time), and each question is a
``HEAD`` request: 812 of them for one ``process`` of the golden week, 463 for its ``export``
(tests/storage/test_s3_requests.py). A listing (``ListObjectsV2``) already returned what they ask.

A listed answer can be out of date only if another process rewrites the key while it is held:
the store holds listings only under the job lock, and drops a key it writes itself. Even then
nothing wrong is read: s3fs reads a file with the listed ETag as ``If-Match``, so S3 refuses
the read of a changed object (412) instead of returning its new bytes.

And the options every such filesystem of a store is made with (:func:`s3fs_options`): its
timeouts, retries and a botocore session that never waits for ``100 Continue``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import s3fs  # type: ignore[import-untyped]

__all__ = ["ListedS3FileSystem", "s3fs_options"]


class ListedS3FileSystem(s3fs.S3FileSystem):  # type: ignore[misc]
    """s3fs answering ``info`` (and so ``size``, ``modified``, ``exists`` and ``open``) of a file
    in ``listed`` (``bucket/key`` → the listing's entry) without a request."""

    #: How many times s3fs runs a call (a class attribute: s3fs takes none as an option). s3fs
    #: runs it again whenever botocore's own attempts end in a timeout or a broken connection,
    #: so its default 5 multiplied botocore's: 5 × 3 requests of 15 s each, four minutes to
    #: report a hung endpoint (tests/storage/test_s3_timeout.py). 1 runs each call once, and
    #: botocore's retry (``s3_store._options``) is the only one. What that gives up, reading
    #: again a body cut off mid-read, fails the job with one line; its next run does the work.
    retries = 1

    def __init__(self, listed: Mapping[str, dict[str, Any]], **options: Any) -> None:
        super().__init__(**options)
        self.listed = listed

    async def _info(
        self,
        path: str,
        bucket: str | None = None,
        key: str | None = None,
        refresh: bool = False,
        version_id: str | None = None,
    ) -> dict[str, Any]:
        if not refresh and version_id is None:
            entry = self.listed.get(self._strip_protocol(path))
            if entry is not None:
                return dict(entry)  # a copy: callers keep and change what they are given
        info: dict[str, Any] = await super()._info(
            path, bucket, key, refresh=refresh, version_id=version_id
        )
        return info


def s3fs_options(timeout: timedelta, attempts: int, connect: float = 5) -> dict[str, Any]:
    """The s3fs options of each filesystem of a store (new dicts: s3fs keeps them): SigV4
    presigned URLs (every region accepts them); each connect bounded by 5 s and each socket
    read by ``timeout``, and each call sent at most ``attempts`` times, so that an endpoint
    that is down, or takes connections and never answers, is reported within about
    ``attempts × timeout``, not minutes."""
    return {
        "config_kwargs": {
            "signature_version": "s3v4",
            "connect_timeout": connect,
            # per socket read (aiohttp's sock_read), not per request: from the end of the
            # upload to the answer's first byte, then between two reads of it
            "read_timeout": timeout.total_seconds(),
            # botocore's retry, the only one (s3fs's are off: ListedS3FileSystem.retries): a
            # connection refused or cut, a timeout, a 5xx or a throttle is sent once more,
            # after its backoff (at most a second)
            "retries": {"total_max_attempts": attempts, "mode": "standard"},
        },
        "session": _session(),
        "use_listings_cache": False,
        "skip_instance_cache": True,
    }


def _session() -> Any:
    """A botocore session of its own (s3fs's ``session`` option) whose requests go out without
    ``Expect: 100-continue``. botocore asks for it before the body of each ``PUT`` of a file
    (PutObject, UploadPart), and aiohttp waits for the ``100 Continue`` without any timeout:
    the read timeout starts only once the body is sent, so a hung endpoint held a publish for
    ever. Without it the body is sent at once, and the read timeout bounds the answer."""
    from aiobotocore.session import AioSession  # type: ignore[import-untyped]

    session = AioSession()
    session.register("before-send.s3", _without_expect_continue)
    return session


def _without_expect_continue(request: Any, **_: Any) -> None:
    if "Expect" in request.headers:
        del request.headers["Expect"]
