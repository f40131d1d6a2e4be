"""Response cache of the pull series: keyed by (viewer's namespaces, query, data generation).

A new data generation (any rollup swap) changes every key, so nothing stale is ever served; the
ETag is the key, so a client that revalidates gets 304 without the body being rebuilt.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request, Response


class ResponseCache:
    def __init__(self, max_entries: int = 2048) -> None:
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        with self._lock:
            self._entries[key] = body
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


def cache_key(scope: tuple[str, ...], request: Request, data_generation: int) -> str:
    query = "&".join(sorted(f"{k}={v}" for k, v in request.query_params.multi_items()))
    text = "\n".join([",".join(sorted(scope)), request.url.path, query, str(data_generation)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cached_json(
    request: Request,
    cache: ResponseCache,
    scope: tuple[str, ...],
    session_generation: int,
    build: Callable[[], bytes],
) -> Response:
    """Answer from the cache (or 304), building the JSON body only on a miss."""
    key = cache_key(scope, request, session_generation)
    etag = f'"{key}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    body = cache.get(key)
    if body is None:
        body = build()
        cache.put(key, body)
    return Response(body, media_type="application/json", headers=headers)
