"""The answer cache is bounded by bytes, and keeps no answer too large for it.

It was bounded by its number of answers alone (2,048) and kept every body it was given: a member
varying ``from``/``to`` of a ``/trends`` grouped by five columns grew a server by 7.5 MB a
request (490 MB to 957 MB in 60 requests). The bodies here are real pull-series answers, made
by the API's own models; the cache is the one the server makes (``cache.answer_cache``).

Their sizes, worked by hand: a row of :func:`body` is 111 bytes of JSON and a comma between
rows, inside ``{"pulls":[…]}`` (11 bytes), so ``n`` rows are ``11 + 112 n`` bytes: 3 rows 347,
6 rows 683, 7 rows 795. Each answer weighs its body plus 256 (``ANSWER_OVERHEAD``): 603, 939 and
1,051. A cache of 256,000 bytes keeps none heavier than 256,000 / 256 = 1,000, and 424 answers
of 603 bytes (255,672; a 425th would make 256,275).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pullstats.accounts import service
from pullstats.api.cache import CachedAnswer, answer_cache
from pullstats.api.models import PullData, PullModel
from pullstats.api.state import AppState
from pullstats.config import Settings
from tests.accounts.conftest import serving
from tests.conftest import catalog_settings, fresh_runtime

BOUND = 256_000
ROUTE = object()  # the route that built an answer: any object


def body(rows: int) -> bytes:
    """A pull series of ``rows`` months as the API answers it: 11 + 112 × rows bytes."""
    row = PullModel(
        start="2026-10-01T00:00:00Z",
        end="2026-10-31T23:59:59Z",
        namespace="acme",
        pullCount=1000,
        ipCount=100,
    )
    return PullData(pulls=[row] * rows).model_dump_json(exclude_none=True).encode()


def test_the_bodies_are_as_large_as_worked_out() -> None:
    assert [len(body(n)) for n in (1, 3, 6, 7)] == [123, 347, 683, 795]


def test_the_cache_holds_no_more_bytes_than_its_bound() -> None:
    cache = answer_cache(BOUND)
    for n in range(1000):
        cache.put(f"key-{n}", CachedAnswer(body(3), ROUTE))
        assert cache.weight <= BOUND
    assert (len(cache), cache.weight) == (424, 255_672)
    # the 424 most recent are the ones kept
    assert cache.get("key-575") is None
    assert all(cache.get(f"key-{n}") is not None for n in range(576, 1000))


def test_the_least_recently_used_answer_goes_first() -> None:
    cache = answer_cache(BOUND)
    for n in range(424):
        cache.put(f"key-{n}", CachedAnswer(body(3), ROUTE))
    assert cache.get("key-0") is not None  # asked for: now the most recently used
    cache.put("key-424", CachedAnswer(body(3), ROUTE))
    assert cache.get("key-1") is None  # the least recently used went
    assert cache.get("key-0") is not None
    # a heavier answer pushes out as many of the least recently used as it takes: 939 bytes
    # past 255,672 - 603 (key-2 gone) + 939 = 256,008 is over 256,000, so key-3 goes too
    cache.put("key-big", CachedAnswer(body(6), ROUTE))
    assert cache.get("key-2") is None and cache.get("key-3") is None
    assert cache.get("key-4") is not None
    assert (len(cache), cache.weight) == (423, 422 * 603 + 939)


def test_an_answer_over_a_256th_of_the_bound_is_not_kept() -> None:
    cache = answer_cache(BOUND)
    cache.put("small", CachedAnswer(body(3), ROUTE))
    cache.put("largest", CachedAnswer(body(6), ROUTE))  # 939: kept
    cache.put("too-large", CachedAnswer(body(7), ROUTE))  # 1,051: not kept
    assert cache.get("too-large") is None
    assert cache.get("largest") is not None and cache.get("small") is not None
    assert (len(cache), cache.weight) == (2, 603 + 939)
    # an answer that grows past the limit under its key is dropped, not left as it was
    cache.put("small", CachedAnswer(body(7), ROUTE))
    assert cache.get("small") is None
    assert (len(cache), cache.weight) == (1, 939)


def test_a_bound_of_zero_keeps_nothing() -> None:
    cache = answer_cache(0)
    cache.put("one", CachedAnswer(body(1), ROUTE))
    assert (cache.get("one"), len(cache), cache.weight) == (None, 0, 0)


def test_the_bound_is_a_setting_and_not_negative(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().answer_cache_bytes == 256 * 1024 * 1024
    monkeypatch.setenv("PULLSTATS_ANSWER_CACHE_BYTES", "1048576")
    assert Settings().answer_cache_bytes == 1024 * 1024
    monkeypatch.setenv("PULLSTATS_ANSWER_CACHE_BYTES", "-1")
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        Settings()


@pytest.fixture
def small_cache_app(tmp_path: Path) -> Iterator[tuple[httpx.Client, AppState]]:
    """The app in a real uvicorn server on a loopback port, with an answer cache of 128 KiB
    (none over 512 bytes kept), alice a member of acme, the schedule off; and its state."""
    data_dir = tmp_path / "data"
    settings = catalog_settings(data_dir, answer_cache_bytes=131_072, schedule_interval=0)
    runtime = fresh_runtime(settings)
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
        service.create_user(session, "alice", "alice-password")
        service.add_member(session, "acme", "alice", "member")
    try:
        with serving(settings, runtime) as api, api.client() as client:
            yield client, api.state
    finally:
        runtime.close()


def test_an_answer_too_large_to_keep_still_answers_304_on_its_etag(
    small_cache_app: tuple[httpx.Client, AppState],
) -> None:
    client, state = small_cache_app
    login = client.post("/v2/users/login", json={"username": "alice", "password": "alice-password"})
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    path = "/api/publisher/analytics/v1/namespaces/acme/pulls"
    small = client.get(path, params={"period": "last-2-months"}, headers=auth)
    large = client.get(path, params={"timespan": "weeks", "period": "last-6-months"}, headers=auth)
    assert (small.status_code, large.status_code) == (200, 200)
    assert len(small.content) + 256 <= 512 < len(large.content) + 256
    assert len(state.responses) == 1  # the small answer only
    etag = large.headers["etag"]
    again = client.get(
        path,
        params={"timespan": "weeks", "period": "last-6-months"},
        headers=auth | {"If-None-Match": etag},
    )
    assert (again.status_code, again.headers["etag"], again.content) == (304, etag, b"")
    weak = client.get(
        path,
        params={"period": "last-6-months", "timespan": "weeks"},  # another order: the same key
        headers=auth | {"If-None-Match": f"W/{etag}"},
    )
    assert weak.status_code == 304
    whole = client.get(path, params={"timespan": "weeks", "period": "last-6-months"}, headers=auth)
    assert (whole.status_code, whole.headers["etag"], whole.content) == (200, etag, large.content)
    assert len(state.responses) == 1
