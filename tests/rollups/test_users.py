"""Unique authenticated and unauthenticated users in the pull rollups (``rollups.counts``),
worked out by hand: a user is a distinct user hash; an anonymous action's user is its address,
so the unauthenticated users are the distinct addresses of the actions without a user (version
checks included, as for unique IPs). Imported history knows no users."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pullstats.config import Settings
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.rollups.steps import COUNTS
from tests.conftest import actions_table, examples

A, B, C = b"\x0a" * 16, b"\x0b" * 16, b"\x0c" * 16
ANN, CI = b"\xa1" * 16, b"\xc1" * 16


def action(
    repo: str, reference: str, kind: str, ip: bytes | None, user: bytes | None, ruleset: int = 1
) -> dict[str, object]:
    return dict(
        namespace="acme", repository=repo, reference=reference, action=kind, ip_hash=ip,
        user_hash=user, ruleset_version=ruleset, action_day=date(2026, 1, 5),
    )  # fmt: skip


ACTIONS = [
    action("api", "1.0", "pull_by_tag", A, ANN),  # ann from A
    action("api", "1.0", "pull_by_tag", B, ANN),  # ann again, from B: one user, two IPs
    action("api", "1.0", "pull_by_tag", C, None),  # anonymous from C
    action("api", "2.0", "version_check", C, None),  # anonymous C again, a version check
    action("api", "2.0", "pull_by_tag", A, CI),  # ci from A, where ann also pulled
    action("web", "1.0", "pull_by_tag", A, None),  # anonymous from A
    action("web", "1.0", "pull_by_tag", None, None, ruleset=0),  # Docker Hub raw row
]


def test_users_at_each_level(tmp_path: Path) -> None:
    table = DuckDBEngine(Settings(data_dir=tmp_path)).arrow(
        COUNTS, {"actions": actions_table(ACTIONS), "summaries": []}
    )
    got = {
        (r["level"], r["repository"], r["reference"]): (
            r["unique_ip_count"],
            r["unique_authenticated_users"],
            r["unique_unauthenticated_users"],
        )
        for r in table.to_pylist()
    }
    assert got == {
        # IPs {A, B, C}; users {ann, ci}; anonymous addresses {C (api), A (web)}
        ("namespace", "", ""): (3, 2, 2),
        # IPs {A, B, C}; users {ann, ci}; anonymous {C}
        ("repository", "api", ""): (3, 2, 1),
        ("reference", "api", "1.0"): (3, 1, 1),  # {A, B, C}; {ann}; {C}
        ("reference", "api", "2.0"): (2, 1, 1),  # {C, A}; {ci}; {C}
        # {A}; none; {A}: the imported row has no address and no user
        ("repository", "web", ""): (1, 0, 1),
        ("reference", "web", "1.0"): (1, 0, 1),
    }


_action_rows = st.lists(
    st.tuples(
        st.sampled_from(["api", "web"]),  # repository
        st.sampled_from(["1.0", "2.0", "sha256:" + "d" * 64]),  # reference
        st.sampled_from(["pull_by_tag", "pull_by_digest", "version_check"]),
        st.sampled_from([A, B, C]),  # address
        st.sampled_from([None, None, ANN, CI]),  # user: anonymous half the time
    ),
    max_size=40,
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> DuckDBEngine:
    """One engine for every example of the property test."""
    return DuckDBEngine(Settings(data_dir=tmp_path_factory.mktemp("users")))


@settings(max_examples=examples(60), deadline=None)
@given(rows=_action_rows)
def test_users_are_the_distinct_sets_at_every_level(
    engine: DuckDBEngine, rows: list[tuple[str, str, str, bytes, bytes | None]]
) -> None:
    """Against sets worked out in Python, on random actions: never a sum of the levels below."""
    table = engine.arrow(
        COUNTS,
        {"actions": actions_table([action(*row) for row in rows]), "summaries": []},
    )
    expected: dict[tuple[str, str, str], tuple[set[bytes], set[bytes]]] = {}
    for repo, ref, _, ip, user in rows:
        for key in (("namespace", "", ""), ("repository", repo, ""), ("reference", repo, ref)):
            users, anonymous = expected.setdefault(key, (set(), set()))
            if user is None:
                anonymous.add(ip)
            else:
                users.add(user)
    got = {
        (r["level"], r["repository"], r["reference"]): (
            r["unique_authenticated_users"],
            r["unique_unauthenticated_users"],
        )
        for r in table.to_pylist()
    }
    assert got == {key: (len(u), len(a)) for key, (u, a) in expected.items()}
