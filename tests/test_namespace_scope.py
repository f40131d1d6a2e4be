"""NamespaceScope: a namespace's own repositories and its extra repos, asked by every reader."""

from __future__ import annotations

import duckdb

from pullstats.namespace_scope import NamespaceScope


def test_own_repositories_and_extra_repos_are_covered_nothing_else() -> None:
    scope = NamespaceScope("acme", ("partner/shared", "o'brien/tool"))
    assert scope.extra_keys == (("partner", "shared"), ("o'brien", "tool"))
    assert scope.covers_repository("acme", "anything")
    assert scope.covers_repository("partner", "shared")
    assert not scope.covers_repository("partner", "other")  # only the named repo of partner
    assert not scope.covers_repository("partners", "shared")
    assert NamespaceScope("acme").extra_keys == ()


def test_the_lake_condition_selects_the_same_rows() -> None:
    rows = [
        ("acme", "api"),
        ("acme", "tools/cli"),
        ("partner", "shared"),
        ("partner", "other"),
        ("o'brien", "tool"),
        ("acme2", "api"),
    ]
    with duckdb.connect() as connection:
        connection.execute("CREATE TABLE t (namespace VARCHAR, repository VARCHAR)")
        connection.executemany("INSERT INTO t VALUES (?, ?)", rows)
        for scope in (
            NamespaceScope("acme", ("partner/shared", "o'brien/tool")),
            NamespaceScope("acme"),
        ):
            chosen = connection.execute(
                f"SELECT namespace, repository FROM t WHERE {scope.lake_condition()} ORDER BY ALL"
            ).fetchall()
            assert chosen == sorted(r for r in rows if scope.covers_repository(*r))
            extras = connection.execute(
                f"SELECT count(*) FROM t WHERE {scope.extras_condition()}"
            ).fetchone()
            assert extras == (len(scope.extra_repos),)
