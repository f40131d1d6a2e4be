"""``scripts/contract_snapshot.py`` keeps every fact of an OpenAPI document and no prose."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "contract_snapshot.py"
SAMPLE = ROOT / "tests" / "fixtures" / "contract" / "sample.yaml"
SNAPSHOT = ROOT / "tests" / "fixtures" / "contract" / "dvp-facts.json"
PROSE = {"description", "summary", "example", "examples", "tags", "x-displayName", "servers"}


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node).union(*(keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(keys(v) for v in node))
    return set()


def test_sample_facts_by_hand(tmp_path: Path) -> None:
    out = tmp_path / "facts.json"
    done = run(SAMPLE, "--out", out)
    assert done.returncode == 0, done.stderr
    facts = json.loads(out.read_text())
    assert facts["info"] == {"title": "Sample", "version": "2"}
    assert facts["security"] == [{"Auth": []}]
    operation = facts["paths"]["/things/{id}"]["get"]
    assert operation == {
        "operationId": "getThing",
        "parameters": [
            {
                "in": "path",
                "name": "id",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            },
            {"in": "query", "name": "kind", "schema": {"$ref": "#/components/schemas/Kind"}},
        ],
        "responses": {
            "200": {
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}
            },
            "404": {},
        },
        # the path item's `security: []` moves onto its operation, where OpenAPI reads it
        "security": [],
    }
    schemas = facts["components"]["schemas"]
    assert schemas["Kind"] == {"type": "string", "enum": ["small", "large"], "default": "small"}
    assert schemas["Thing"] == {
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "integer"},
            "names": {"type": "array", "items": {"type": "string"}},
            "extra": {
                "nullable": True,
                "oneOf": [
                    {"$ref": "#/components/schemas/Kind"},
                    {"type": "object", "additionalProperties": {"type": "integer"}},
                ],
            },
        },
    }
    assert facts["components"]["securitySchemes"] == {"Auth": {"type": "http", "scheme": "bearer"}}
    assert not keys(facts) & PROSE


def test_check_tells_a_stale_snapshot(tmp_path: Path) -> None:
    out = tmp_path / "facts.json"
    assert run(SAMPLE, "--out", out).returncode == 0
    assert run(SAMPLE, "--out", out, "--check").returncode == 0
    out.write_text(out.read_text().replace('"small"', '"tiny"', 1))
    stale = run(SAMPLE, "--out", out, "--check")
    assert stale.returncode == 1 and "stale" in stale.stderr


def test_unreadable_document_is_one_line(tmp_path: Path) -> None:
    done = run(tmp_path / "missing.yaml", "--out", tmp_path / "facts.json")
    assert done.returncode == 2
    assert "missing.yaml" in done.stderr and "Traceback" not in done.stderr
    not_openapi = tmp_path / "list.yaml"
    not_openapi.write_text("- a\n- b\n")
    done = run(not_openapi, "--out", tmp_path / "facts.json")
    assert done.returncode == 2 and "not an OpenAPI document" in done.stderr


def test_committed_snapshot_is_facts_only() -> None:
    facts = json.loads(SNAPSHOT.read_text())
    assert not keys(facts) & PROSE
    assert facts["x-snapshot"]["made-by"] == "scripts/contract_snapshot.py"
    assert len(facts["x-snapshot"]["source-sha256"]) == 64
    # the DVP contract: two login operations and ten analytics reads
    operations = [(m, p) for p, item in facts["paths"].items() for m in item]
    assert len(operations) == 12
    assert (
        "get",
        "/namespaces/{namespace}/pulls/exports/years/{year}/{timespantype}",
    ) in operations
