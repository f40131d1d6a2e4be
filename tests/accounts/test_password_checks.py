"""Password checks (argon2id) run at most PULLSTATS_PASSWORD_CHECKS at a time (AppState.
password_check): a login flood queues there, counted by the two gauges of /metrics, instead of
filling the thread pool every other route needs."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from pullstats.config import Settings
from pullstats.runtime import Runtime
from tests.accounts.conftest import PASSWORD, Api, seed_user

LOGINS = 6


def _gauge(metrics: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", metrics, re.MULTILINE)
    assert found, f"{name} is not in /metrics"
    return float(found.group(1))


@pytest.mark.slow
def test_a_login_flood_waits_its_turn_in_a_bounded_pool(
    make_settings: Callable[..., Settings], start_api: Callable[..., Api]
) -> None:
    # hashed at the real cost, so that each check takes long enough to be seen running
    standard = Runtime.open(make_settings(password_hashing="standard"))
    try:
        seed_user(standard, "ada", "acme")
    finally:
        standard.close()
    api = start_api(password_hashing="standard", password_checks=1)

    seen = {"running": 0.0, "waiting": 0.0}
    done = threading.Event()

    def watch() -> None:
        with api.client() as client:
            while not done.is_set():
                metrics = client.get("/metrics").text
                seen["running"] = max(
                    seen["running"], _gauge(metrics, "pullstats_password_checks_running")
                )
                seen["waiting"] = max(
                    seen["waiting"], _gauge(metrics, "pullstats_password_checks_waiting")
                )

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(LOGINS) as pool:
            answers = list(pool.map(lambda _: api.login("ada", PASSWORD), range(LOGINS)))
    finally:
        done.set()
        watcher.join(30)
    assert [answer.status_code for answer in answers] == [200] * LOGINS
    assert seen["running"] == 1  # never two at once, with PULLSTATS_PASSWORD_CHECKS=1
    assert seen["waiting"] >= 1  # the others queued for their turn
    # once the flood is over nothing is left counted
    with api.client() as client:
        metrics = client.get("/metrics").text
    assert _gauge(metrics, "pullstats_password_checks_running") == 0
    assert _gauge(metrics, "pullstats_password_checks_waiting") == 0


def test_a_wrong_password_is_refused_through_the_bounded_pool(
    accounts_runtime: Runtime, start_api: Callable[..., Api]
) -> None:
    seed_user(accounts_runtime, "ada", "acme")
    api = start_api(password_checks=1)
    assert api.login("ada", "not the password").status_code == 401
    with httpx.Client(base_url=api.url) as client:
        metrics = client.get("/metrics").text
    assert _gauge(metrics, "pullstats_password_checks_waiting") == 0
