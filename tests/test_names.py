"""The name grammar (pullstats.names) alone, and the same rule as DuckDB SQL."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pullstats.names import (
    InvalidName,
    check_namespace,
    check_repository,
    namespace_name_sql,
    namespace_of,
    namespace_problem,
    repository_name_sql,
    repository_problem,
)
from tests.conftest import examples
from tests.duckdb_cursor import duckdb_cursor

NS64 = "n" * 64
NS65 = "n" * 65


@pytest.mark.parametrize(
    "name",
    ["acme", "a", "a.b", "a_b", "a__b", "a-b", "a---b", "0x", NS64, "my-org.io"],
)
def test_namespaces_accepted(name: str) -> None:
    assert namespace_problem(name) is None
    assert check_namespace(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        (NS65, "longer than 64 characters"),
        ("n" * 240, "longer than 64 characters"),
        ("Acme", "invalid namespace"),
        ("a/b", "invalid namespace"),
        ("-a", "invalid namespace"),
        ("a-", "invalid namespace"),
        ("a..b", "invalid namespace"),
        ("a___b", "invalid namespace"),
        ("a_-b", "invalid namespace"),
        ("acme\n", "invalid namespace"),
        ("acmé", "invalid namespace"),
    ],
)
def test_namespaces_rejected(name: str, why: str) -> None:
    problem = namespace_problem(name)
    assert problem is not None and why in problem
    with pytest.raises(InvalidName, match=why):
        check_namespace(name)


@pytest.mark.parametrize(
    "name",
    [
        "alpine",
        "acme/api",
        "acme/tools/cli",
        f"{NS64}/app",
        # 255 characters in all: Distribution's limit
        "a/" + "b" * 253,
        # a single-component name may be long: its namespace is "library"
        "r" * 255,
    ],
)
def test_repositories_accepted(name: str) -> None:
    assert repository_problem(name) is None
    assert check_repository(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("a/" + "b" * 254, "longer than 255 characters"),
        (f"{NS65}/app", "namespace is longer than 64"),
        ("n" * 240 + "/app", "namespace is longer than 64"),
        ("acme/", "invalid repository name"),
        ("/acme", "invalid repository name"),
        ("acme//api", "invalid repository name"),
        ("acme/API", "invalid repository name"),
        ("acme/api\n", "invalid repository name"),
    ],
)
def test_repositories_rejected(name: str, why: str) -> None:
    problem = repository_problem(name)
    assert problem is not None and why in problem
    with pytest.raises(InvalidName, match=why):
        check_repository(name)


def test_a_rejected_repository_says_the_grammar_and_only_a_lone_name_its_namespace() -> None:
    """``extra-repos add acme Partner/X`` said "write it as namespace/repository", which it
    was: the capitals were what was wrong."""
    from pullstats.accounts import errors
    from pullstats.accounts.service import qualified_repository

    with pytest.raises(errors.InvalidName) as capitals:
        qualified_repository("Partner/X")
    assert capitals.value.args[0] == (
        "invalid repository name 'Partner/X': use a-z and 0-9, separated by '.', '_', '__' or "
        "dashes, in components joined by '/'"
    )
    with pytest.raises(errors.InvalidName) as alone:
        qualified_repository("api")
    assert alone.value.args[0] == "invalid repository 'api': write it as namespace/repository"


def test_a_huge_name_is_cut_in_messages() -> None:
    problem = namespace_problem("x" * 10_000)
    assert problem is not None
    assert len(problem) < 200
    assert "(10000 characters)" in problem


def test_namespace_of() -> None:
    assert namespace_of("acme/tools/cli") == "acme"
    assert namespace_of("alpine") == "library"


_NAMES = (
    st.text(alphabet="ab09._-/A", min_size=1, max_size=12)
    | st.builds(
        lambda n, rest: "a" * n + rest,
        st.integers(60, 70),
        st.sampled_from(["", "/b", "/b/c", "-x/y"]),
    )
    | st.builds(lambda n: "a/" + "b" * n, st.integers(250, 256))
)


@pytest.mark.slow
@settings(max_examples=examples(150), deadline=None)
@given(_NAMES)
@example("a" * 64 + "/b")
@example("a" * 65 + "/b")
@example("a/" + "b" * 253)
@example("a/" + "b" * 254)
def test_the_sql_conditions_are_the_python_rules(name: str) -> None:
    with duckdb_cursor() as connection:
        repository_ok, namespace_ok = connection.execute(
            f"SELECT {repository_name_sql('n')}, {namespace_name_sql('n')} FROM (SELECT ? AS n)",
            [name],
        ).fetchone() or (None, None)
    assert repository_ok is (repository_problem(name) is None)
    assert namespace_ok is (namespace_problem(name) is None)
