"""Docker's DVP OpenAPI document → the committed snapshot of its facts the tests read.

The contract (Docker's ``dvp.yaml``) is not part of this repository, and nothing here may read
a path outside it. This script turns a copy of the document, named on the command line, into
``tests/fixtures/contract/dvp-facts.json``: the same OpenAPI shape with only its facts kept —
paths, methods, operation ids, parameters (types, enums, defaults, required), request bodies,
response codes and media types, schemas (property names, types, formats, enums, required,
nullable, composition) and the security scheme. Prose (descriptions, summaries, examples,
tags, display names) and servers are dropped, so the snapshot changes only when a fact does.

    python scripts/contract_snapshot.py PATH/TO/dvp.yaml           # rewrite the snapshot
    python scripts/contract_snapshot.py PATH/TO/dvp.yaml --check   # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

SNAPSHOT = (
    Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "contract" / "dvp-facts.json"
)

#: keys of a schema object that state a fact; everything else (prose, examples, x-*) is dropped
SCHEMA_FACTS = {
    "type", "format", "enum", "default", "nullable", "required", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems",
    "maxItems", "uniqueItems", "readOnly", "writeOnly", "$ref",
}  # fmt: skip
SCHEMA_NESTED = {"items", "additionalProperties", "not"}
SCHEMA_LISTS = {"oneOf", "anyOf", "allOf"}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def schema_facts(node: Any) -> Any:
    """A schema object with only its facts, recursively; booleans stay as they are."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {key: node[key] for key in SCHEMA_FACTS if key in node}
    for key in SCHEMA_NESTED & node.keys():
        out[key] = schema_facts(node[key])
    for key in SCHEMA_LISTS & node.keys():
        out[key] = [schema_facts(member) for member in node[key]]
    if "properties" in node:
        out["properties"] = {name: schema_facts(s) for name, s in node["properties"].items()}
    return out


def _content_facts(content: dict[str, Any]) -> dict[str, Any]:
    return {
        media: {"schema": schema_facts(body.get("schema", {}))} for media, body in content.items()
    }


def _parameter_facts(parameter: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in parameter:
        return {"$ref": parameter["$ref"]}
    out = {
        key: parameter[key]
        for key in ("name", "in", "required", "style", "explode")
        if key in parameter
    }
    out["schema"] = schema_facts(parameter.get("schema", {}))
    return out


def _operation_facts(operation: dict[str, Any], inherited_security: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "operationId" in operation:
        out["operationId"] = operation["operationId"]
    if "parameters" in operation:
        out["parameters"] = [_parameter_facts(p) for p in operation["parameters"]]
    if "requestBody" in operation:
        body = operation["requestBody"]
        out["requestBody"] = {"required": bool(body.get("required", False))}
        out["requestBody"]["content"] = _content_facts(body.get("content", {}))
    out["responses"] = {}
    for code, response in operation.get("responses", {}).items():
        # YAML reads `200:` as an integer; OpenAPI response keys are strings
        facts: dict[str, Any] = {}
        if "content" in response:
            facts["content"] = _content_facts(response["content"])
        if "headers" in response:
            facts["headers"] = {
                n: {"schema": schema_facts(h.get("schema", {}))}
                for n, h in response["headers"].items()
            }
        out["responses"][str(code)] = facts
    security = operation.get("security", inherited_security)
    if security is not None:
        out["security"] = security
    return out


def snapshot(document: dict[str, Any], source: bytes) -> dict[str, Any]:
    """The facts of an OpenAPI 3.0 ``document``; ``source`` is its text, for the checksum."""
    paths: dict[str, Any] = {}
    for path, item in document.get("paths", {}).items():
        # Docker's document puts `security` on a path item; OpenAPI only reads it on operations
        path_security = item.get("security")
        paths[path] = {
            method: _operation_facts(item[method], path_security)
            for method in METHODS
            if method in item
        }
        if "parameters" in item:
            paths[path]["parameters"] = [_parameter_facts(p) for p in item["parameters"]]
    components = document.get("components", {})
    schemes = {
        name: {
            key: scheme[key]
            for key in ("type", "scheme", "bearerFormat", "in", "name")
            if key in scheme
        }
        for name, scheme in components.get("securitySchemes", {}).items()
    }
    info = document.get("info", {})
    return {
        "openapi": document.get("openapi", "3.0.0"),
        "info": {"title": info.get("title", ""), "version": str(info.get("version", ""))},
        "x-snapshot": {
            "made-by": "scripts/contract_snapshot.py",
            "source-sha256": hashlib.sha256(source).hexdigest(),
        },
        "security": document.get("security", []),
        "paths": paths,
        "components": {
            "schemas": {name: schema_facts(s) for name, s in components.get("schemas", {}).items()},
            "securitySchemes": schemes,
        },
    }


def render(facts: dict[str, Any]) -> str:
    return json.dumps(facts, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path, help="Docker's DVP OpenAPI document (YAML or JSON)")
    parser.add_argument("--out", type=Path, default=SNAPSHOT, help="the snapshot to write")
    parser.add_argument("--check", action="store_true", help="only say whether --out is current")
    args = parser.parse_args(argv)
    try:
        source = args.spec.read_bytes()
        document = yaml.safe_load(source)
    except (OSError, yaml.YAMLError) as exc:
        print(f"{args.spec}: cannot read the document: {exc}", file=sys.stderr)
        return 2
    if not isinstance(document, dict) or "paths" not in document:
        print(f"{args.spec}: not an OpenAPI document (no `paths`)", file=sys.stderr)
        return 2
    text = render(snapshot(document, source))
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run without --check to rewrite it", file=sys.stderr)
            return 1
        print(f"{args.out} is current")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
