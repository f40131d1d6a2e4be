"""Our served OpenAPI document describes the contract's paths, parameters and schemas.

The contract is Docker's DVP OpenAPI document. The tests read the snapshot of its facts that
``scripts/contract_snapshot.py`` made from it (``tests/fixtures/contract/dvp-facts.json``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pullstats.api.analytics import PREFIX
from pullstats.api.app import create_app

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "contract" / "dvp-facts.json"
LOGIN_PATHS = {"/v2/users/login", "/v2/users/2fa-login"}


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SEED.read_text())
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


def members(document: dict[str, Any], schema: Any) -> Iterator[dict[str, Any]]:
    """A schema and, depth first, every member of its allOf/anyOf/oneOf, references followed."""
    schema = resolve(document, schema)
    yield schema
    for key in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(key, []):
            yield from members(document, member)


def properties(document: dict[str, Any], schema: Any) -> set[str]:
    return {name for member in members(document, schema) for name in member.get("properties", {})}


def enum_values(document: dict[str, Any], schema: Any) -> set[str]:
    return {value for member in members(document, schema) for value in member.get("enum", [])}


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


def test_operations_and_schemas_have_the_contracts_names(
    seed: dict[str, Any], ours: dict[str, Any]
) -> None:
    """A client generated from our document has the methods and types of one generated from
    Docker's."""
    for path, method in operations(seed):
        expected = seed["paths"][path][method]["operationId"]
        assert ours["paths"][our_path(path)][method]["operationId"] == expected, (method, path)
    assert set(seed["components"]["schemas"]) <= set(ours["components"]["schemas"])
    # and each route's bodies are the contract's by name
    for path, method in operations(seed):
        for status, response in seed["paths"][path][method]["responses"].items():
            theirs = response.get("content", {}).get("application/json", {}).get("schema", {})
            if "$ref" in theirs:
                served = ours["paths"][our_path(path)][method]["responses"][str(status)]
                mine = served["content"]["application/json"]["schema"]
                assert mine.get("$ref") == theirs["$ref"], (method, path, status)
        body = seed["paths"][path][method].get("requestBody")
        if body is not None:
            served = ours["paths"][our_path(path)][method]["requestBody"]
            assert (
                served["content"]["application/json"]["schema"]
                == (body["content"]["application/json"]["schema"])
            ), (method, path)
    ids = [operation.get("operationId") for item in ours["paths"].values() for operation in
           item.values()]  # fmt: skip
    assert len(set(ids)) == len(ids) and all(ids)
    assert ours["components"]["securitySchemes"]["HubAuth"]["bearerFormat"] == "JWT"


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


def schema_types(document: dict[str, Any], schema: Any) -> set[str]:
    """The JSON types a schema admits, through references and composition (``null`` aside)."""
    types = {m["type"] for m in members(document, schema) if isinstance(m.get("type"), str)}
    return types - {"null"}


def test_parameter_types_and_defaults_match(seed: dict[str, Any], ours: dict[str, Any]) -> None:
    for path, method in operations(seed):
        mine = {
            (p["name"], p["in"]): p
            for p in ours["paths"][our_path(path)][method].get("parameters", [])
        }
        for parameter in seed["paths"][path][method].get("parameters", []):
            key = (parameter["name"], parameter["in"])
            theirs_schema = parameter.get("schema", {})
            expected = schema_types(seed, theirs_schema)
            assert schema_types(ours, mine[key]["schema"]) == expected, (method, path, key)
            default = resolve(seed, theirs_schema).get("default")
            if default is not None:
                assert resolve(ours, mine[key]["schema"]).get("default") == default, key


def test_contract_response_codes_are_documented(seed: dict[str, Any], ours: dict[str, Any]) -> None:
    for path, method in operations(seed):
        theirs = set(seed["paths"][path][method]["responses"])
        mine = set(ours["paths"][our_path(path)][method]["responses"])
        assert theirs <= mine, (method, path, theirs - mine)


def property_schemas(document: dict[str, Any], schema: Any) -> dict[str, Any]:
    """Every property a schema (or any member of its composition) declares, by name."""
    found: dict[str, Any] = {}
    for member in members(document, schema):
        found.update(member.get("properties", {}))
    return found


def test_contract_property_types_match(seed: dict[str, Any], ours: dict[str, Any]) -> None:
    """Each property of the contract's schemas has the same JSON type in ours, items included."""
    schemas = ours["components"]["schemas"]
    compared = 0
    for name, schema in seed["components"]["schemas"].items():
        if name not in schemas:
            continue
        mine = property_schemas(ours, schemas[name])
        for prop, theirs in property_schemas(seed, schema).items():
            assert schema_types(ours, mine[prop]) == schema_types(seed, theirs), (name, prop)
            theirs_items = resolve(seed, theirs).get("items")
            # an item schema that states no type (Docker's *Model objects) admits anything
            if theirs_items is not None and schema_types(seed, theirs_items):
                my_items = resolve(ours, mine[prop]).get("items", {})
                expected = schema_types(seed, theirs_items)
                assert schema_types(ours, my_items) == expected, (name, prop)
            compared += 1
    assert compared >= 20  # the contract's schemas are really compared, not skipped by name


#: What our bodies add to the contract's schemas: pullstats extensions, each documented in
#: docs/api.md and optional, so a client written for Docker Hub may ignore them.
EXTENSIONS = {"PullModel": {"partial"}, "ResponseDataFile": {"sha256"}}


def test_the_only_extra_properties_are_the_documented_optional_extensions(
    seed: dict[str, Any], ours: dict[str, Any]
) -> None:
    schemas = ours["components"]["schemas"]
    added: dict[str, set[str]] = {}
    for name, schema in seed["components"]["schemas"].items():
        if name in schemas:
            extra = set(property_schemas(ours, schemas[name])) - set(property_schemas(seed, schema))
            if extra:
                added[name] = extra
    assert added == EXTENSIONS
    for name, extra in EXTENSIONS.items():
        assert not extra & set(schemas[name].get("required", [])), name


def test_no_property_we_send_is_nullable_in_our_document(ours: dict[str, Any]) -> None:
    """We never send null (docs/api.md, "No nulls"): a field that does not apply is left out.
    The document said ``anyOf: [string, null]`` for each such field (pydantic's ``str | None``),
    so a client generated from it typed them as nullable where the contract's are plain. Only
    the login error's ``login_2fa_token`` is nullable, as in the contract."""
    nullable = {
        (name, field)
        for name, schema in ours["components"]["schemas"].items()
        for field, spec in schema.get("properties", {}).items()
        if any(member.get("type") == "null" for member in members(ours, spec))
    }
    assert nullable == {("PostUsersLoginErrorResponse", "login_2fa_token")}
