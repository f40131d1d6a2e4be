"""The answer cache's keys and revalidation (api/cache.py), without a server: which queries
share an answer, and which ``If-None-Match`` values it answers 304."""

from __future__ import annotations

import pytest

from pullstats.api.cache import answer_key, answer_response

PATH = "/api/publisher/analytics/v1/repos/pulls"
DAY = "2026-11-27"


def key(
    query: bytes, scope: tuple[str, ...] = ("acme",), generation: int = 1, day: str = DAY
) -> str:
    return answer_key(scope, {"path": PATH, "query_string": query}, generation, day)


def test_answer_keys_keep_queries_and_days_apart() -> None:
    two = key(b"repos=acme/a&repos=acme/b")
    assert key(b"repos=acme/a%26repos%3Dacme/b") != two
    assert key(b"repos=acme/a&repos=acme/b", day="2026-11-28") != two
    assert key(b"repos=acme/a&repos=acme/b", generation=2) != two
    assert key(b"repos=acme/a&repos=acme/b", scope=("acme", "+x/y")) != two


def test_the_order_of_parameters_matters_only_within_one_name() -> None:
    # the route takes the last value of a parameter given twice
    assert key(b"period=last-2-months&timespan=weeks") == key(
        b"timespan=weeks&period=last-2-months"
    )
    assert key(b"timespan=months&timespan=weeks") != key(b"timespan=weeks&timespan=months")


@pytest.mark.parametrize(
    ("held", "status"),
    [
        ('"k1"', 304),
        ('W/"k1"', 304),  # a proxy that compresses marks the tag weak; the comparison is weak
        ('"other", W/"k1"', 304),
        ("*", 304),
        ('"k2"', 200),
        ('W/"k2"', 200),
        ("k1", 200),  # unquoted: not this tag
        (None, 200),
    ],
)
def test_if_none_match_compares_weakly(held: str | None, status: int) -> None:
    response = answer_response("k1", b"{}", held)
    assert response.status_code == status
    assert response.headers["etag"] == '"k1"'
