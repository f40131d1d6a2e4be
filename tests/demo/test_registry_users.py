"""Tests for ``demo.registry_users``: who of the synthetic clients is signed in, and as whom.

Read the way pullstats counts users: distinct user names of the authenticated pulls, distinct
addresses of the anonymous ones, and the users two repositories share (co-usage).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pullstats.demo import synthetic
from pullstats.demo.catalog import DEMO_CATALOG
from pullstats.demo.population import Bots, Clients, References
from pullstats.demo.registry_users import (
    BOT_ACCOUNTS,
    CLASS_ACCOUNTS,
    _person_names,
    _service_names,
)
from pullstats.demo.synthetic import generate_requests
from pullstats.demo.traffic_model import BOT_KINDS, BOT_SHARE, CLASSES, TOOL_NAMES, TOOL_STEPS

START = dt.date(2025, 3, 1)
NAME = re.compile(r"^[a-z0-9._-]+$")
PERSON = re.compile(r"^[a-z]+\.[a-z]+\d*$")
SERVICE = re.compile(r"^(k8s|ci|svc)-(acme|globex|initech)-\d+$|^(renovate|monitor)-\d+$")


def month(seed: int = 11, requests_per_day: int = 1_500) -> pa.Table:
    return pa.concat_tables(
        generate_requests(
            DEMO_CATALOG, start=START, days=31, requests_per_day=requests_per_day, seed=seed
        )
    )


@pytest.fixture(scope="module")
def march() -> pa.Table:
    return month()


def repositories_by_user(table: pa.Table) -> dict[str, set[str]]:
    pulled: dict[str, set[str]] = defaultdict(set)
    for user, name in zip(table["user"].to_pylist(), table["name"].to_pylist(), strict=True):
        if user:
            pulled[user].add(name)
    return pulled


def test_every_client_class_and_bot_kind_has_its_accounts() -> None:
    assert len(CLASS_ACCOUNTS) == len(CLASSES)
    assert len(BOT_ACCOUNTS) == len(BOT_KINDS)
    assert all(0.0 <= spec.share < 1.0 and spec.per_user >= 1.0 for spec in CLASS_ACCOUNTS)


def test_a_month_has_signed_in_and_anonymous_pulls_in_the_model_shares(march: pa.Table) -> None:
    # each class's share of the requests: its sessions, pulls per session, requests per pull
    requests = [
        c.session_share
        * c.burst_mean
        * sum(w * TOOL_STEPS[TOOL_NAMES.index(tool)] for tool, w in c.tools.items())
        / sum(c.tools.values())
        for c in CLASSES
    ]
    pulls = sum(r * a.share for r, a in zip(requests, CLASS_ACCOUNTS, strict=True)) / sum(requests)
    checks = sum(k.share * a.share for k, a in zip(BOT_KINDS, BOT_ACCOUNTS, strict=True))
    expected = (1 - BOT_SHARE) * pulls + BOT_SHARE * checks / sum(k.share for k in BOT_KINDS)
    signed_in = pc.not_equal(march["user"], "")
    share = pc.sum(signed_in).as_py() / march.num_rows
    assert 0.3 < expected < 0.45  # most pulls are anonymous
    assert abs(share - expected) < 0.07
    users = set(march["user"].to_pylist()) - {""}
    anonymous = set(march.filter(pc.invert(signed_in))["ip"].to_pylist())
    assert 100 < len(users) < len(anonymous)


def test_users_pull_several_repositories_across_namespaces(march: pa.Table) -> None:
    pulled = repositories_by_user(march)
    several = [names for names in pulled.values() if len(names) >= 2]
    assert len(several) > 0.5 * len(pulled)
    namespaces = [{name.split("/", 1)[0] for name in names} for names in several]
    assert sum(len(spaces) >= 2 for spaces in namespaces) > 0.3 * len(pulled)
    # co-usage: pairs of repositories pulled by the same users
    pairs: Counter[tuple[str, str]] = Counter()
    for names in pulled.values():
        pairs.update(itertools.combinations(sorted(names), 2))
    shared = {pair for pair, users in pairs.items() if users >= 10}
    assert len(shared) >= 10
    assert any(a.split("/")[0] != b.split("/")[0] for a, b in shared)


def test_one_user_pulls_from_several_addresses(march: pa.Table) -> None:
    addresses: dict[str, set[str]] = defaultdict(set)
    for user, ip in zip(march["user"].to_pylist(), march["ip"].to_pylist(), strict=True):
        if user:
            addresses[user].add(ip)
    several = [user for user, ips in addresses.items() if len(ips) >= 2]
    assert 0.1 * len(addresses) < len(several) < 0.6 * len(addresses)
    # a person on a laptop and at the office; the nodes of a cluster, the runners of a CI
    assert any(PERSON.match(user) for user in several)
    assert any(user.startswith(("k8s-", "ci-")) for user in several)


def test_names_are_plain_people_and_service_accounts(march: pa.Table) -> None:
    users = set(march["user"].to_pylist()) - {""}
    assert all(NAME.match(user) and (PERSON.match(user) or SERVICE.match(user)) for user in users)
    prefixes = {user.split("-", 1)[0] for user in users if SERVICE.match(user)}
    assert {"k8s", "ci", "svc"} <= prefixes
    assert sum(bool(PERSON.match(user)) for user in users) > 0.3 * len(users)
    # a bot's checks carry its account
    renovate = march.filter(pc.starts_with(march["ua"], "RenovateBot/"))
    assert renovate.num_rows and all(
        user == "" or user.startswith("renovate-") for user in renovate["user"].to_pylist()
    )


def test_users_are_the_same_under_the_seed_and_leave_the_rest_as_it_was(
    march: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert month()["user"].equals(march["user"])
    other = month(seed=12)
    assert set(other["user"].to_pylist()) != set(march["user"].to_pylist())

    def nobody(seed: int, clients: Clients, bots: Bots, refs: References) -> pa.Array:
        return pa.array([""], pa.string())

    # users come from a stream of their own: every other column is the seed's without them
    monkeypatch.setattr(synthetic, "sign_in", nobody)
    anonymous = month()
    assert anonymous["user"].unique().to_pylist() == [""]
    assert anonymous.drop(["user"]).equals(march.drop(["user"]))


def test_a_small_demo_still_has_users_and_co_usage() -> None:
    table = month(seed=3, requests_per_day=300)
    pulled = repositories_by_user(table)
    assert len(pulled) >= 20
    assert 0.0 < pc.mean(pc.cast(pc.not_equal(table["user"], ""), pa.int8())).as_py() < 0.6


def test_names_stay_distinct_past_the_pairs_of_first_and_last_names() -> None:
    names = _person_names(np.random.default_rng(1), 10_000).to_pylist()
    assert len(set(names)) == 10_000
    assert all(PERSON.match(name) for name in names)
    assert any(name[-1].isdigit() for name in names)
    assert _person_names(np.random.default_rng(1), 0).to_pylist() == []
    namespaces = pa.array(["acme", "globex"])
    numbered = _service_names("ci", np.array([1, 0, 1, -1, 0]), namespaces).to_pylist()
    assert numbered == ["ci-globex-1", "ci-acme-1", "ci-globex-2", "ci-1", "ci-acme-2"]
