"""The co-usage rollup (``rollups.co_usage``) worked out by hand: users of both repositories of
a pair, the repository's users, and the ten-user floor (a pair of 9 is never kept, 10 and 11
are). A user is a user hash, or an anonymous action's address hash; an action with neither is
no one. On random pulls, the rows are the pairs worked out in Python from sets of users."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pullstats.config import Settings
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.rollups.co_usage import MIN_USERS
from pullstats.rollups.steps import CO_USAGE
from tests.conftest import actions_table, examples

#: eleven users: six signed in (a user hash), five anonymous (an address hash)
USERS = [(None, bytes([n]) * 16) if n > 5 else (bytes([0xA0 + n]) * 16, b"\x01" * 16)
         for n in range(11)]  # fmt: skip


def action(namespace: str, repo: str, user: int | None) -> dict[str, object]:
    user_hash, ip_hash = USERS[user] if user is not None else (None, None)
    return dict(
        namespace=namespace, repository=repo, reference="1.0", tag="1.0", action="pull_by_tag",
        ip_hash=ip_hash, user_hash=user_hash, ruleset_version=1 if user is not None else 0,
        action_day=date(2026, 1, 5),
    )  # fmt: skip


ACTIONS = [
    *(action("acme", "api", n) for n in range(11)),  # 11 users
    action("acme", "api", 3),  # a user again: still 11
    action("acme", "api", None),  # a Docker Hub row: no one
    *(action("partner", "shared", n) for n in range(11)),  # the same 11
    *(action("partner", "private", n) for n in range(10)),  # 10 of them
    *(action("other", "nine", n) for n in range(9)),  # 9 of them: below the floor with anyone
]


def test_pairs_of_ten_users_or_more_each_way(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = Settings(data_dir=tmp_path_factory.mktemp("co-usage"))
    table = DuckDBEngine(settings).arrow(CO_USAGE, {"actions": actions_table(ACTIONS)})
    rows = {
        (r["namespace"], r["repository"], r["paired_namespace"], r["paired_repository"]): (
            r["users"],
            r["total_users"],
        )
        for r in table.to_pylist()
    }
    assert MIN_USERS == 10
    assert rows == {
        ("acme", "api", "partner", "shared"): (11, 11),
        ("acme", "api", "partner", "private"): (10, 11),
        ("partner", "shared", "acme", "api"): (11, 11),
        ("partner", "shared", "partner", "private"): (10, 11),
        ("partner", "private", "acme", "api"): (10, 10),
        ("partner", "private", "partner", "shared"): (10, 10),
        # other/nine shares 9 users with each: never kept, either way
    }


REPOS = (("acme", "api"), ("acme", "web"), ("partner", "shared"))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> DuckDBEngine:
    return DuckDBEngine(Settings(data_dir=tmp_path_factory.mktemp("co-usage-random")))


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pulls=st.lists(
        # a repository, a person, and whether they were signed in (else: their address)
        st.tuples(st.sampled_from(REPOS), st.integers(0, 13), st.booleans()),
        max_size=90,
    ),
    no_one=st.integers(0, 2),  # Docker Hub rows: neither a user nor an address
)
def test_pairs_are_the_users_in_common_worked_out_in_python(
    engine: DuckDBEngine, pulls: list[tuple[tuple[str, str], int, bool]], no_one: int
) -> None:
    rows = []
    users: dict[tuple[str, str], set[bytes]] = {repo: set() for repo in REPOS}
    for (namespace, repo), person, signed_in in pulls:
        user, address = (bytes([0xA0 + person]) * 16, b"\x01" * 16) if signed_in else (
            None, bytes([person]) * 16)  # fmt: skip
        rows.append(
            dict(
                namespace=namespace, repository=repo, reference="1.0", tag="1.0",
                action="pull_by_tag", ip_hash=address, user_hash=user, ruleset_version=1,
                action_day=date(2026, 1, 5),
            )
        )  # fmt: skip
        users[(namespace, repo)].add(user or address)
    rows += [action("acme", "api", None)] * no_one
    table = engine.arrow(CO_USAGE, {"actions": actions_table(rows)})
    found = {
        (r["namespace"], r["repository"], r["paired_namespace"], r["paired_repository"]): (
            r["users"],
            r["total_users"],
        )
        for r in table.to_pylist()
    }
    worked = {
        (*a, *b): (len(users[a] & users[b]), len(users[a]))
        for a in REPOS
        for b in REPOS
        if a != b and len(users[a] & users[b]) >= MIN_USERS
    }
    assert found == worked
