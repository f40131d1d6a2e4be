"""The API's in-memory caches: pull-series answers, and the viewer of each bearer token.

Answers are keyed by (viewer's namespaces, query, data generation): a new data generation (any
rollup swap) changes every key, so nothing stale is ever served; the ETag is the key, so a client
that revalidates gets 304 without the body being rebuilt (while it is kept). The answers kept
are bounded by their bytes (``PULLSTATS_ANSWER_CACHE_BYTES``), and a large one is not kept: a
client varying the window of a large ``/trends`` grew the server by 7.5 MB a request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.types import Scope

V = TypeVar("V")


class LruCache(Generic[V]):
    """A bounded map that forgets the least recently used entry; safe across threads.

    Bounded by its number of entries (``max_entries``, None: no such bound) and, given
    ``weigh`` (an entry's size in bytes), by their total weight too: ``max_bytes`` in all, and
    one entry at most ``max_bytes / LARGEST_SHARE``; a heavier one is not kept at all.
    """

    def __init__(
        self,
        max_entries: int | None = 2048,
        *,
        weigh: Callable[[V], int] | None = None,
        max_bytes: int = 0,
    ) -> None:
        self._entries: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._max = max_entries
        self._weigh = weigh
        self._max_bytes = max_bytes
        #: the heaviest entry kept
        self.largest = max_bytes // LARGEST_SHARE
        #: the total weight of the entries kept (0 without ``weigh``)
        self.weight = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: str, value: V) -> None:
        weight = 0 if self._weigh is None else self._weigh(value)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.weight -= old[1]
            if self._weigh is not None and weight > self.largest:
                return  # never kept: it would push out the answers of many other requests
            self._entries[key] = (value, weight)
            self.weight += weight
            while (self._max is not None and len(self._entries) > self._max) or (
                self._weigh is not None and self.weight > self._max_bytes
            ):
                _, (_, dropped) = self._entries.popitem(last=False)
                self.weight -= dropped


#: one entry of a cache bounded by weight takes at most this share of the bound
#: (1/256: a 1 MiB answer at the answer cache's default 256 MiB)
LARGEST_SHARE = 256
#: what an answer in the cache takes besides its body: its key, the map's entry, the
#: CachedAnswer and the bytes object (about 230 bytes measured with tracemalloc, CPython 3.11)
ANSWER_OVERHEAD = 256


def utc_day() -> str:
    """Today in UTC, the day every relative window of the series is counted back from."""
    return datetime.now(UTC).date().isoformat()


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A pull-series body, and the route that built it (so metrics name the route on a hit)."""

    body: bytes
    route: object


def answer_weight(answer: CachedAnswer) -> int:
    """The bytes a cached answer takes in memory, about: its body and :data:`ANSWER_OVERHEAD`."""
    return len(answer.body) + ANSWER_OVERHEAD


def answer_cache(max_bytes: int) -> LruCache[CachedAnswer]:
    """The answer cache of one server process: answers up to ``max_bytes`` in all
    (``PULLSTATS_ANSWER_CACHE_BYTES``), least recently used out first, none larger than
    ``max_bytes / 256``; no bound on their number."""
    return LruCache(None, weigh=answer_weight, max_bytes=max_bytes)


def answer_key(
    viewer_scope: tuple[str, ...], scope: Scope, data_generation: int | str, day: str
) -> str:
    """(what the viewer may read, path, query, data generation, today's date), hashed.

    The date is in the key because the windows are relative to today: a new month changes
    the answer even when no new data arrived. The query is its decoded pairs, sorted by name
    (the values of one name stay in their order: a parameter given twice takes its last value),
    encoded as JSON: joined as text, ``repos=a%26repos%3Db`` would collide with
    ``repos=a&repos=b``.
    """
    query = sorted(QueryParams(scope["query_string"]).multi_items(), key=lambda pair: pair[0])
    text = json.dumps([sorted(viewer_scope), scope["path"], query, data_generation, day])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


#: the export listings (years, weeks or months, one period): their answers change with the
#: export catalog, not with the rollups; a view's links are not among them (signed, expiring)
LISTING_MARKER = "/pulls/exports/years"


def export_listing(path: str) -> bool:
    """Whether ``path`` is an export listing whose answer is cached (not a view's links)."""
    if LISTING_MARKER not in path:
        return False
    tail = path.split(LISTING_MARKER, 1)[1].strip("/").split("/")
    return tail == [""] or len(tail) in (2, 3)  # years | {year}/{kind} | {year}/{kind}/{n}


def exports_version(exports_epoch: int) -> str:
    """The version a listing's answer is cached under: the exports epoch, marked as such."""
    return f"exports-{exports_epoch}"


def answer_response(key: str, body: bytes | None, if_none_match: str | None) -> Response:
    """The 200 with the body, or 304 when the client already holds this ETag: ``If-None-Match``
    compares weakly (RFC 9110 13.1.2), so a proxy that marks the tag weak (``W/``) still gets
    304, and ``*`` matches any answer."""
    etag = f'"{key}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if if_none_match and _none_match(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _none_match(header: str, etag: str) -> bool:
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or etag in [tag.removeprefix("W/") for tag in tags]


async def cached_json(
    request: Request,
    cache: LruCache[CachedAnswer],
    viewer_scope: tuple[str, ...],
    data_generation: int | str,
    day: str,
    build: Callable[[], bytes],
) -> Response:
    """Answer from the cache (or 304), building the JSON body only on a miss.

    ``build`` reads the catalog, so it runs in the thread pool; a hit never leaves the loop.
    """
    key = answer_key(viewer_scope, request.scope, data_generation, day)
    cached = cache.get(key)
    if cached is None:
        # built even for a matching If-None-Match: the build is what answers 404 for a
        # repository that does not exist, and an ETag is cheap to forge
        cached = CachedAnswer(await run_in_threadpool(build), request.scope.get("route"))
        cache.put(key, cached)
    return answer_response(key, cached.body, request.headers.get("if-none-match"))


class Coalesced(Generic[V]):
    """One run of a blocking check at a time, in the thread pool, shared by every request that
    arrives while it runs (``/healthz``, ``/metrics``).

    Sixty-four probes at once cost one check, not sixty-four threads: each gets the result of
    the run in progress when it arrived, or starts the next one. A result is never reused once
    its run has ended, so no answer is older than one run. The run is shielded from a caller
    that goes away, as the others still wait for it.
    """

    def __init__(self) -> None:
        self._running: asyncio.Future[V] | None = None

    async def __call__(self, work: Callable[[], V]) -> V:
        running = self._running
        if running is None:
            running = self._running = asyncio.ensure_future(run_in_threadpool(work))
            running.add_done_callback(self._ended)
        return await asyncio.shield(running)

    def _ended(self, future: asyncio.Future[Any]) -> None:
        if self._running is future:
            self._running = None
        if not future.cancelled():
            future.exception()  # retrieved here, so a failure nobody awaited is never logged


class Bounded:
    """Blocking work in threads of its own, at most ``slots`` at a time; the rest wait their
    turn on the event loop, holding no thread (password checks and dashboard page renders:
    AppState.password_check, AppState.render_page)."""

    def __init__(self, slots: int) -> None:
        self._limiter = anyio.CapacityLimiter(slots)

    async def __call__(self, work: Callable[[], V]) -> V:
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)
