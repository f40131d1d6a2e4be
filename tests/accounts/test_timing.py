"""A failed login takes as long for an unknown user as for a wrong password.

A security property, not a benchmark: interleaved attempts must agree within a generous factor.
Each kind is compared with the known user's attempt of the same round, a moment apart, and the
median of those ratios is held: a burst of load from other tests (the suite runs on every core)
then skews one round, not the verdict, as it did when whole-run medians were compared. Without
the dummy argon2 hash, unknown users answer about a hundred times faster (ratios of 0.006 and
0.012 here); with it, a loaded two-core machine still gave a ratio of 0.46 once, so the bounds
are a factor of five either way.

Five rounds: the median of five ratios holds with two rounds skewed by load, twice the one the
median is there for (seven rounds bought nothing more at four argon2 hashes a round, the test's
whole cost). The difference it exists for is found in every round alone: without the dummy
hash each round's ratio is about 0.01, twenty times under the bound, so the median of any
number of rounds fails it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator

import pytest

from pullstats.accounts import tokens
from pullstats.accounts.login import authenticate
from pullstats.config import Settings
from pullstats.runtime import Runtime
from tests.accounts.conftest import seed_user

ROUNDS = 5


def _timed(runtime: Runtime, name: str, secret: str) -> float:
    with runtime.sessions.begin() as session:
        started = time.perf_counter()
        assert authenticate(session, name, secret) is None
        return time.perf_counter() - started


@pytest.fixture
def standard_runtime(make_settings: Callable[..., Settings]) -> Iterator[Runtime]:
    """Hashing at the real cost: the cheapest argon2 would hide a difference in the noise."""
    runtime = Runtime.open(make_settings(password_hashing="standard"))
    yield runtime
    runtime.close()


@pytest.mark.slow
def test_unknown_users_are_not_distinguishable_by_time(standard_runtime: Runtime) -> None:
    accounts_runtime = standard_runtime
    seed_user(accounts_runtime, "alice", "acme")
    with accounts_runtime.sessions.begin() as session:
        pat = tokens.create_pat(session, "alice", "ci").text
    forged_pat = pat[:-4] + "AAAA"
    _timed(accounts_runtime, "alice", "warm-up")  # first-use costs are not the property
    samples: dict[str, list[float]] = {"known": [], "unknown": [], "pat": [], "pat-unknown": []}
    for _ in range(ROUNDS):  # interleaved, so load on the machine hits every kind alike
        samples["known"].append(_timed(accounts_runtime, "alice", "wrong password"))
        samples["unknown"].append(_timed(accounts_runtime, "nobody", "wrong password"))
        samples["pat"].append(_timed(accounts_runtime, "alice", forged_pat))
        samples["pat-unknown"].append(_timed(accounts_runtime, "nobody", forged_pat))
    known = samples["known"]
    ratios = {
        kind: statistics.median(t / k for t, k in zip(times, known, strict=True))
        for kind, times in samples.items()
    }
    assert all(0.2 < ratio < 5.0 for ratio in ratios.values()), (ratios, samples)
