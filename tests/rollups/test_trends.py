"""The trends rollup (``rollups.trends``) worked out by hand: pulls and exact distinct users per
stored grouping, and the route's ``group`` values mapped onto them (rollups/trends.py).

A grouping's cell is stored as a row per set of client categories its users pulled with; the
fixture ``rows`` adds those up per cell (each user is in one of them), as the route does
without ``exclude``; ``stored`` keeps them apart.

Downloads are pulls by tag and by digest; a user is a distinct user hash, an anonymous one a
distinct address among the actions without a user, version checks included. A coarser row is
never the sum of finer ones for the users: the category ``engine`` below has 2 anonymous users,
where its tools' rows say 2 (docker) and 1 (containerd).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pullstats.client_categories import ClientCategory, category_bit
from pullstats.config import Settings
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.rollups.steps import TRENDS
from pullstats.rollups.trends import (
    GROUPINGS,
    UnknownGrouping,
    grouping_of,
    name,
    with_category,
)
from tests.conftest import actions_table, trend, trends_table

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


Stored = dict[str, dict[tuple[tuple[str, ...], int], Counts]]
KEY = ("repository", "tag", "country", "cloud", "tool", "category", "use_case")


def trend_rows(
    settings: Settings, actions: list[dict[str, object]], *imported: dict[str, object]
) -> Stored:
    """The step's rows: grouping → (dimension values, set of categories) → counts."""
    inputs = {"actions": actions_table(actions), "trends": trends_table(*imported)}
    table = DuckDBEngine(settings).arrow(TRENDS, inputs)
    found: Stored = {}
    for r in table.to_pylist():
        key = (tuple(r[c] for c in KEY), r["categories"])
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


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Stored:
    return trend_rows(Settings(data_dir=tmp_path_factory.mktemp("trends")), ACTIONS)


@pytest.fixture(scope="module")
def rows(stored: Stored) -> dict[str, dict[tuple[str, ...], Counts]]:
    """Each cell's rows added up: the route's answer without ``exclude``."""
    found: dict[str, dict[tuple[str, ...], Counts]] = {}
    for grouped_by, cells in stored.items():
        for (key, _), counts in cells.items():
            a = found.setdefault(grouped_by, {}).get(key, (0, 0, 0, 0))
            found[grouped_by][key] = (
                a[0] + counts[0],
                a[1] + counts[1],
                a[2] + counts[2],
                a[3] + counts[3],
            )
    return found


def test_every_grouping_is_stored(rows: dict[str, dict[tuple[str, ...], Counts]]) -> None:
    assert set(rows) == {name(g) for g in GROUPINGS}
    # any combination of repo and the client dimensions (2 x 22), a repository's tags alone
    # and by category, and the report's grain
    assert len(GROUPINGS) == 47
    assert {name(g) for g in GROUPINGS if "tag" in g} == {
        "repo,tag",
        "repo,tag,category",
        "repo,tag,country,cloud,tool",
    }
    assert all(with_category(g) in GROUPINGS for g in GROUPINGS)


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


def bit(*categories: ClientCategory) -> int:
    return sum(category_bit(c) for c in categories)


ENGINE, SCANNER, UNKNOWN = ClientCategory.ENGINE, ClientCategory.SCANNER, ClientCategory.UNKNOWN


def test_a_cell_has_a_row_per_set_of_categories_its_users_pulled_with(stored: Stored) -> None:
    # ann, C and A pulled with engines only; ci with trivy; row 7 has no client and no address
    assert stored[""] == {
        (("",) * 7, bit(ENGINE)): (4, 1, 1, 2),
        (("",) * 7, bit(SCANNER)): (1, 0, 1, 0),
        (("",) * 7, bit(UNKNOWN)): (1, 0, 0, 0),
    }
    # where the grouping has the tool, each row is one category's
    assert {categories for _, categories in stored["tool"]} == {
        bit(ENGINE),
        bit(SCANNER),
        bit(UNKNOWN),
    }


def test_a_user_of_two_categories_is_in_one_row(tmp_path: Path) -> None:
    # one signed-in user pulls with docker and checks with trivy; an anonymous client uses trivy
    found = trend_rows(
        Settings(data_dir=tmp_path),
        [
            action("api", "1.0", "pull_by_tag", A, ANN, "DE", "", "docker"),
            action("api", "1.0", "version_check", A, ANN, "DE", "", "trivy"),
            action("api", "1.0", "version_check", B, None, "DE", "", "trivy"),
        ],
    )
    assert found["country"] == {
        (one(2, "DE"), bit(ENGINE, SCANNER)): (1, 1, 1, 0),  # ann
        (one(2, "DE"), bit(SCANNER)): (0, 1, 0, 1),  # B
    }
    # split by category, ann is a user of each: where the pulls left by exclude are read
    assert found["country,category"] == {
        (("", "", "DE", "", "", "engine", ""), bit(ENGINE)): (1, 0, 1, 0),
        (("", "", "DE", "", "", "scanner", ""), bit(SCANNER)): (0, 2, 1, 1),
    }


def test_users_of_one_client_and_of_several_add_up_in_every_grouping(tmp_path: Path) -> None:
    """The step counts a user of one client (one country, cloud and tool) apart from a user
    of several (rollups/trends.py): X pulls two tags of api and one of web from one place with
    docker; the signed-in U pulls api:1.0 from Germany on AWS and from the United States."""
    X, U = b"\x58" * 16, b"\x55" * 16
    found = trend_rows(
        Settings(data_dir=tmp_path),
        [
            action("api", "1.0", "pull_by_tag", X, None, "DE", "aws", "docker"),  # 1
            action("api", "2.0", "pull_by_tag", X, None, "DE", "aws", "docker"),  # 2
            action("api", "1.0", "pull_by_tag", A, U, "DE", "aws", "docker"),  # 3
            action("api", "1.0", "pull_by_tag", B, U, "US", "", "docker"),  # 4
            action("web", "1.0", "pull_by_tag", X, None, "DE", "aws", "docker"),  # 5
        ],
    )

    def cells(grouping: str) -> dict[tuple[str, ...], Counts]:
        # everyone pulled with docker: one set of categories, one row per cell
        assert {categories for _, categories in found[grouping]} == {bit(ENGINE)}
        return {key: counts for (key, _), counts in found[grouping].items()}

    def key(repo: str = "", tag: str = "", country: str = "", cloud: str = "") -> tuple[str, ...]:
        return (repo, tag, country, cloud, "", "", "")

    assert cells("") == {key(): (5, 0, 1, 1)}  # {U}; {X}
    # X once in api for its two tags; U once for its two places
    assert cells("repo") == {key("api"): (4, 0, 1, 1), key("web"): (1, 0, 0, 1)}
    assert cells("repo,tag") == {
        key("api", "1.0"): (3, 0, 1, 1),  # 1, 3, 4
        key("api", "2.0"): (1, 0, 0, 1),
        key("web", "1.0"): (1, 0, 0, 1),
    }
    # U in each country it pulled from: the countries' users are 3, the namespace's 2
    assert cells("country") == {key(country="DE"): (4, 0, 1, 1), key(country="US"): (1, 0, 1, 0)}
    assert cells("country,cloud") == {
        key(country="DE", cloud="aws"): (4, 0, 1, 1),
        key(country="US"): (1, 0, 1, 0),
    }
    assert cells("repo,country") == {
        key("api", country="DE"): (3, 0, 1, 1),  # 1, 2, 3
        key("api", country="US"): (1, 0, 1, 0),
        key("web", country="DE"): (1, 0, 0, 1),
    }
    assert cells("tool") == {("", "", "", "", "docker", "engine", ""): (5, 0, 1, 1)}


def test_imported_trends_rows_add_their_pulls_everywhere_and_their_users_at_the_grain(
    tmp_path: Path,
) -> None:
    """Docker's Trends report rows of the period: each a cell of the grain, counted by Docker.
    Its users are another population than the lake's: added at the grain, where Docker counted
    them, and nowhere else, since they cannot be told apart from the lake's users."""
    raw = action("web", "1.0", "pull_by_tag", None, None, None, None, None, ruleset=0)
    found = trend_rows(
        Settings(data_dir=tmp_path),
        [action("api", "1.0", "pull_by_tag", A, ANN, "DE", "", "docker"), raw],
        trend("api", "1.0", "", "docker", 5, 2, "a", country="DE",
              unique_authenticated_users=3, unique_unauthenticated_users=4),
        # the same report downloaded again: the largest of each count, never the sum
        trend("api", "1.0", "", "docker", 6, 1, "b", country="DE",
              unique_authenticated_users=2, unique_unauthenticated_users=5),
        trend("api", "", "aws", "containerd", 1, 0, "a", country="US",
              unique_unauthenticated_users=1),
        # web's Hub pulls are its imported raw rows: the report's row of them is not counted
        trend("web", "1.0", "", "docker", 9, 9, "a", country="DE"),
    )  # fmt: skip
    engine = bit(ENGINE)
    assert found["repo,tag,country,cloud,tool"] == {
        (("api", "1.0", "DE", "", "docker", "engine", "Local Dev"), engine): (7, 2, 4, 5),
        (("api", "", "US", "aws", "containerd", "engine", "Prod"), engine): (1, 0, 0, 1),
        (("web", "1.0", "ZZ", "", "", "unknown", "Unknown"), bit(UNKNOWN)): (1, 0, 0, 0),
    }
    # coarser: the report's pulls, and only the lake's users (ann)
    assert found[""] == {
        (("",) * 7, engine): (8, 2, 1, 0),
        (("",) * 7, bit(UNKNOWN)): (1, 0, 0, 0),
    }
    assert found["country"] == {
        (one(2, "DE"), engine): (7, 2, 1, 0),
        (one(2, "US"), engine): (1, 0, 0, 0),
        (one(2, "ZZ"), bit(UNKNOWN)): (1, 0, 0, 0),
    }


@pytest.mark.parametrize(
    ("group", "grouping"),
    [
        ([], ()),
        (["country"], ("country",)),
        (["tag"], ("repo", "tag")),  # a tag is a repository's
        (["use_case", "repo"], ("repo", "use_case")),
        (["tool", "category"], ("tool",)),  # the category follows from the tool
        (["cloud", "country"], ("country", "cloud")),
        (["tool", "cloud", "use_case", "repo"], ("repo", "cloud", "tool")),  # so does the use
        (["tool", "use_case"], ("tool", "use_case")),  # … but not from the tool alone
        (["category", "tag"], ("repo", "tag", "category")),
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
        (["tag", "country"], "group repo,tag,country is not kept: a tag goes with repo and"),
        (["tag", "cloud", "tool"], "any combination of repo, country, cloud, tool, category"),
    ],
)
def test_other_groups_are_refused_with_what_may_be_asked(group: list[str], message: str) -> None:
    with pytest.raises(UnknownGrouping) as raised:
        grouping_of(group)
    assert message in str(raised.value)
