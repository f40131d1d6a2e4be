"""The trends rollup (``rollups.trends``) worked out by hand: pulls and exact distinct users per
stored grouping, and the route's ``group`` values mapped onto them (rollups/trends.py).

Downloads are pulls by tag and by digest; a user is a distinct user hash, an anonymous one a
distinct address among the actions without a user, version checks included. A coarser row is
never the sum of finer ones for the users: the category ``engine`` below has 2 anonymous users,
where its tools' rows say 2 (docker) and 1 (containerd).
"""

from __future__ import annotations

from datetime import date

import pytest

from pullstats.config import Settings
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.rollups.steps import TRENDS
from pullstats.rollups.trends import GROUPINGS, UnknownGrouping, grouping_of, name
from tests.conftest import actions_table

A, B, C = b"\x0a" * 16, b"\x0b" * 16, b"\x0c" * 16
ANN, CI = b"\xa1" * 16, b"\xc1" * 16


def action(
    repo: str,
    tag: str | None,
    kind: str,
    ip: bytes | None,
    user: bytes | None,
    country: str | None,
    cloud: str | None,
    tool: str | None,
    ruleset: int = 1,
) -> dict[str, object]:
    return dict(
        namespace="acme", repository=repo, tag=tag, reference=tag or "sha256:" + "d" * 64,
        action=kind, ip_hash=ip, user_hash=user, country=country, host=cloud,
        user_agent_tool=tool, ruleset_version=ruleset, action_day=date(2026, 1, 5),
    )  # fmt: skip


ACTIONS = [
    action("api", "1.0", "pull_by_tag", A, ANN, "DE", "aws", "docker"),  # 1: ann, in a cloud
    action("api", "1.0", "pull_by_tag", B, ANN, "DE", "aws", "docker"),  # 2: ann from B
    action("api", "1.0", "version_check", C, None, "US", "", "docker"),  # 3: anonymous C
    action("api", "", "pull_by_digest", C, None, "US", "", "containerd"),  # 4: C, by digest
    action("api", "2.0", "pull_by_tag", A, CI, "de", "", "trivy"),  # 5: ci; country in lower case
    action("web", "1.0", "pull_by_tag", A, None, "DE", "", "docker"),  # 6: anonymous A
    action("web", "1.0", "pull_by_tag", None, None, None, None, None, ruleset=0),  # 7: Hub row
]

Counts = tuple[int, int, int, int]  # downloads, version checks, signed-in users, anonymous


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[tuple[str, ...], Counts]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("trends"))
    table = DuckDBEngine(settings).arrow(TRENDS, {"actions": actions_table(ACTIONS)})
    found: dict[str, dict[tuple[str, ...], Counts]] = {}
    for r in table.to_pylist():
        key = tuple(
            r[c] for c in ("repository", "tag", "country", "cloud", "tool", "category", "use_case")
        )
        counts = (
            r["data_downloads"],
            r["version_checks"],
            r["unique_authenticated_users"],
            r["unique_unauthenticated_users"],
        )
        assert r["namespace"] == "acme"
        assert key not in found.setdefault(r["grouped_by"], {})
        found[r["grouped_by"]][key] = counts
    return found


def test_every_grouping_is_stored(rows: dict[str, dict[tuple[str, ...], Counts]]) -> None:
    assert set(rows) == {name(g) for g in GROUPINGS}


def one(dimension: int, value: str) -> tuple[str, ...]:
    key = [""] * 7
    key[dimension] = value
    return tuple(key)


def test_the_namespace_and_one_dimension(rows: dict[str, dict[tuple[str, ...], Counts]]) -> None:
    # downloads 1, 2, 4, 5, 6, 7; the check 3; users {ann, ci}; anonymous {C, A} (7 has none)
    assert rows[""] == {("",) * 7: (6, 1, 2, 2)}
    assert rows["country"] == {
        one(2, "DE"): (4, 0, 2, 1),  # 1, 2, 5 ("de"), 6: {ann, ci}; {A}
        one(2, "US"): (1, 1, 0, 1),  # 3, 4: {C}
        one(2, "ZZ"): (1, 0, 0, 0),  # 7: no country, no address
    }
    assert rows["cloud"] == {
        one(3, "aws"): (2, 0, 1, 0),  # 1, 2: {ann}
        one(3, ""): (4, 1, 1, 2),  # 3-7: {ci}; {C, A}
    }
    # a tool's rows carry its category
    assert rows["tool"] == {
        ("", "", "", "", "docker", "engine", ""): (3, 1, 1, 2),  # 1, 2, 3, 6
        ("", "", "", "", "containerd", "engine", ""): (1, 0, 0, 1),  # 4
        ("", "", "", "", "trivy", "scanner", ""): (1, 0, 1, 0),  # 5
        ("", "", "", "", "", "unknown", ""): (1, 0, 0, 0),  # 7
    }
    assert rows["category"] == {
        one(5, "engine"): (4, 1, 1, 2),  # 1-4, 6: anonymous {C, A}, not 2 + 1
        one(5, "scanner"): (1, 0, 1, 0),
        one(5, "unknown"): (1, 0, 0, 0),
    }
    # Docker's rule: docker in a cloud is CI/CD; containerd is CI/CD; docker elsewhere Local Dev
    assert rows["use_case"] == {
        one(6, "CI/CD"): (3, 0, 1, 1),  # 1, 2, 4: {ann}; {C}
        one(6, "Local Dev"): (1, 1, 0, 2),  # 3, 6: {C, A}
        one(6, "Unknown"): (2, 0, 1, 0),  # 5, 7: {ci}
    }
    assert rows["repo"] == {
        one(0, "api"): (4, 1, 2, 1),  # 1-5: {ann, ci}; {C}
        one(0, "web"): (2, 0, 0, 1),  # 6, 7: {A}
    }


def test_a_repository_by_tag_and_the_reports_grain(
    rows: dict[str, dict[tuple[str, ...], Counts]],
) -> None:
    assert rows["repo,tag"] == {
        ("api", "1.0", "", "", "", "", ""): (2, 1, 1, 1),  # 1, 2, 3
        ("api", "", "", "", "", "", ""): (1, 0, 0, 1),  # 4: by digest, no tag
        ("api", "2.0", "", "", "", "", ""): (1, 0, 1, 0),  # 5
        ("web", "1.0", "", "", "", "", ""): (2, 0, 0, 1),  # 6, 7
    }
    assert rows["repo,country"][("api", "", "DE", "", "", "", "")] == (3, 0, 2, 0)
    assert rows["repo,category"][("api", "", "", "", "", "engine", "")] == (3, 1, 1, 1)
    grain = rows["repo,tag,country,cloud,tool"]
    assert grain == {
        ("api", "1.0", "DE", "aws", "docker", "engine", "CI/CD"): (2, 0, 1, 0),
        ("api", "1.0", "US", "", "docker", "engine", "Local Dev"): (0, 1, 0, 1),
        ("api", "", "US", "", "containerd", "engine", "CI/CD"): (1, 0, 0, 1),
        ("api", "2.0", "DE", "", "trivy", "scanner", "Unknown"): (1, 0, 1, 0),
        ("web", "1.0", "DE", "", "docker", "engine", "Local Dev"): (1, 0, 0, 1),
        ("web", "1.0", "ZZ", "", "", "unknown", "Unknown"): (1, 0, 0, 0),
    }


@pytest.mark.parametrize(
    ("group", "grouping"),
    [
        ([], ()),
        (["country"], ("country",)),
        (["tag"], ("repo", "tag")),  # a tag is a repository's
        (["use_case", "repo"], ("repo", "use_case")),
        (["tool", "category"], ("tool",)),  # the category follows from the tool
        (["repo", "tag", "country", "cloud", "tool", "category", "use_case"],
         ("repo", "tag", "country", "cloud", "tool")),
    ],
)  # fmt: skip
def test_the_routes_groups(group: list[str], grouping: tuple[str, ...]) -> None:
    assert grouping_of(group) == grouping


@pytest.mark.parametrize(
    ("group", "message"),
    [
        (["colour"], "unknown group colour: use repo, tag, country, cloud, tool, category"),
        (["country", "cloud"], "group country,cloud is not kept: group by one of country"),
        (["repo", "country", "tool"], "(none); repo; country;"),
    ],
)
def test_other_groups_are_refused_with_what_may_be_asked(group: list[str], message: str) -> None:
    with pytest.raises(UnknownGrouping) as raised:
        grouping_of(group)
    assert message in str(raised.value)
