"""NamespaceScope: a namespace's own repositories and its extra repos, asked by every reader."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from pullstats.config import Settings
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.exports.steps import RAW_LINES
from pullstats.namespace_scope import NamespaceScope
from tests.conftest import actions_table


def test_own_repositories_and_extra_repos_are_covered_nothing_else() -> None:
    scope = NamespaceScope("acme", ("partner/shared", "o'brien/tool"))
    assert scope.extra_keys == (("partner", "shared"), ("o'brien", "tool"))
    assert scope.covers_repository("acme", "anything")
    assert scope.covers_repository("partner", "shared")
    assert not scope.covers_repository("partner", "other")  # only the named repo of partner
    assert not scope.covers_repository("partners", "shared")
    assert NamespaceScope("acme").extra_keys == ()


@pytest.mark.parametrize(
    "scope",
    [NamespaceScope("acme", ("partner/shared", "o'brien/tool")), NamespaceScope("acme")],
    ids=["extra-repos", "own-only"],
)
def test_the_raw_view_step_selects_the_rows_the_scope_covers(
    tmp_path: Path, scope: NamespaceScope
) -> None:
    rows = [
        ("acme", "api"),
        ("acme", "tools/cli"),
        ("partner", "shared"),
        ("partner", "other"),
        ("o'brien", "tool"),
        ("acme2", "api"),
    ]
    actions = actions_table(
        [
            {"namespace": ns, "repository": repo, "timestamp": datetime(2026, 1, 5, 12)}
            for ns, repo in rows
        ]
    )
    params: dict[str, object] = {"namespace": scope.namespace}
    if scope.extra_repos:
        params["extra_repos"] = list(scope.extra_repos)
    engine = DuckDBEngine(Settings(data_dir=tmp_path))
    lines = engine.arrow(RAW_LINES, {"actions": actions}, params, extras=bool(scope.extra_repos))[
        "line"
    ].to_pylist()
    # the raw view's second and third cells are the namespace and the repository
    chosen = sorted(tuple(line.split(",")[1:3]) for line in lines)
    assert chosen == sorted(r for r in rows if scope.covers_repository(*r))
