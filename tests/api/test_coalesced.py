"""Coalesced and Bounded (api/cache.py): shared runs of a check, and bounded blocking work."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pullstats.api.cache import Bounded, Coalesced


def test_callers_during_a_run_share_it_and_the_next_caller_starts_another() -> None:
    started = threading.Event()
    release = threading.Event()
    runs: list[int] = []

    def check() -> int:
        runs.append(len(runs) + 1)
        started.set()
        release.wait(10)
        return len(runs)

    async def scenario() -> None:
        shared: Coalesced[int] = Coalesced()
        first = asyncio.ensure_future(shared(check))
        await asyncio.to_thread(started.wait, 10)  # the first run is in its thread
        waiting = [asyncio.ensure_future(shared(check)) for _ in range(20)]
        await asyncio.sleep(0)
        release.set()
        assert await first == 1
        assert await asyncio.gather(*waiting) == [1] * 20  # one run answered all 21
        # the run has ended: its result is not reused, the next call runs the check again
        assert await shared(check) == 2

    asyncio.run(scenario())
    assert runs == [1, 2]


def test_a_failure_reaches_every_caller_of_that_run_and_the_next_run_is_fresh() -> None:
    release = threading.Event()
    calls = 0

    def failing() -> str:
        nonlocal calls
        calls += 1
        release.wait(10)
        raise RuntimeError("catalog unreachable")

    async def scenario() -> None:
        shared: Coalesced[str] = Coalesced()
        callers = [asyncio.ensure_future(shared(failing)) for _ in range(5)]
        await asyncio.sleep(0.05)
        release.set()
        outcomes = await asyncio.gather(*callers, return_exceptions=True)
        assert [str(error) for error in outcomes] == ["catalog unreachable"] * 5
        assert await shared(lambda: "ok") == "ok"

    asyncio.run(scenario())
    assert calls == 1


def test_a_caller_that_goes_away_does_not_cancel_the_others() -> None:
    release = threading.Event()

    def slow() -> str:
        release.wait(10)
        return "done"

    async def scenario() -> None:
        shared: Coalesced[str] = Coalesced()
        leaving = asyncio.ensure_future(shared(slow))
        staying = asyncio.ensure_future(shared(slow))
        await asyncio.sleep(0.05)
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        release.set()
        assert await staying == "done"

    asyncio.run(scenario())


def test_bounded_work_runs_at_most_its_slots_at_once() -> None:
    running, most = 0, 0
    lock = threading.Lock()
    release = threading.Event()

    def render(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(10)
        with lock:
            running -= 1
        return n

    async def scenario() -> None:
        bounded = Bounded(2)
        calls = [asyncio.ensure_future(bounded(lambda n=n: render(n))) for n in range(8)]
        await asyncio.sleep(0.1)  # long enough for more than two to start, were they allowed
        assert most == 2
        release.set()
        assert await asyncio.gather(*calls) == list(range(8))

    asyncio.run(scenario())
    assert most == 2
