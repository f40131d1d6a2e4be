"""Our served OpenAPI document describes the contract's paths, parameters and schemas.

The contract is Docker's document in ../shared/spec/dvp.yaml; it is read here, never copied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pullstats.api.analytics import PREFIX
from pullstats.api.app import create_app

SEED = Path(__file__).resolve().parents[3] / "shared" / "spec" / "dvp.yaml"
LOGIN_PATHS = {"/v2/users/login", "/v2/users/2fa-login"}


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    if not SEED.exists():
        pytest.fail(f"the contract is missing: {SEED}")
    document: dict[str, Any] = yaml.safe_load(SEED.read_text())
    return document


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    return create_app().openapi()


def resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow ``$ref`` (recursively through allOf/anyOf/oneOf of one item) to a schema."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def properties(document: dict[str, Any], schema: Any) -> set[str]:
    schema = resolve(document, schema)
    names = set(schema.get("properties", {}))
    for key in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(key, []):
            names |= properties(document, member)
    return names


def enum_values(document: dict[str, Any], schema: Any) -> set[str]:
    schema = resolve(document, schema)
    values = set(schema.get("enum", []))
    for key in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(key, []):
            values |= enum_values(document, member)
    return values


def our_path(seed_path: str) -> str:
    return seed_path if seed_path in LOGIN_PATHS else PREFIX + seed_path


def operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "delete", "patch"}
    ]


def test_every_contract_operation_is_served(seed: dict[str, Any], ours: dict[str, Any]) -> None:
    missing = [
        (method, path)
        for path, method in operations(seed)
        if method not in ours["paths"].get(our_path(path), {})
    ]
    assert missing == []


def test_parameters_match(seed: dict[str, Any], ours: dict[str, Any]) -> None:
    for path, method in operations(seed):
        theirs = {
            (p["name"], p["in"]): p for p in seed["paths"][path][method].get("parameters", [])
        }
        mine = {
            (p["name"], p["in"]): p
            for p in ours["paths"][our_path(path)][method].get("parameters", [])
        }
        assert set(theirs) <= set(mine), (method, path, set(theirs) - set(mine))
        for key, parameter in theirs.items():
            if parameter.get("required"):
                assert mine[key].get("required"), (method, path, key)
            expected = enum_values(seed, parameter.get("schema", {}))
            if expected:
                assert enum_values(ours, mine[key]["schema"]) == expected, (method, path, key)


def test_success_bodies_have_the_contract_fields(
    seed: dict[str, Any], ours: dict[str, Any]
) -> None:
    for path, method in operations(seed):
        responses = {str(k): v for k, v in seed["paths"][path][method]["responses"].items()}
        content = responses["200"].get("content", {}).get("application/json")
        if not content:
            continue
        theirs = resolve(seed, content["schema"])
        mine = resolve(
            ours,
            ours["paths"][our_path(path)][method]["responses"]["200"]["content"][
                "application/json"
            ]["schema"],
        )
        if theirs.get("type") == "array":
            theirs, mine = resolve(seed, theirs["items"]), resolve(ours, mine["items"])
        assert properties(seed, theirs) <= properties(ours, mine), (method, path)


def test_pull_rows_and_login_bodies_have_every_contract_field(
    seed: dict[str, Any], ours: dict[str, Any]
) -> None:
    schemas = ours["components"]["schemas"]
    for name in ("PullModel", "NamespaceMetadata", "ResponseDataFile", "DatasetModel"):
        expected = set(seed["components"]["schemas"][name]["properties"])
        assert expected <= set(schemas[name]["properties"]), name


def test_every_status_we_return_is_documented(ours: dict[str, Any]) -> None:
    for path, method in operations(ours):
        documented = set(ours["paths"][path][method]["responses"])
        if path.startswith(PREFIX):
            assert {"200", "401"} <= documented, (method, path)
        if "{" in path and path.startswith(PREFIX):
            assert "404" in documented or "422" in documented, (method, path)
