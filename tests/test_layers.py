"""Imports point down: the layers of docs/architecture.md, checked by import-linter.

The contracts live in pyproject.toml (``[tool.importlinter]``): the layers, no cycles between
sibling packages or modules, classification and the parsers without a database or HTTP, and
the API's read routes without the lake. The drawing in the docs lists the same layers. And no
module of the package is past the line limit CONTRIBUTING.md sets.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from importlinter import configuration
from importlinter.application import use_cases

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def contracts() -> list[dict[str, object]]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        config = tomllib.load(file)["tool"]["importlinter"]
    return list(config["contracts"])


def test_every_import_contract_is_kept(capfd: pytest.CaptureFixture[str]) -> None:
    configuration.configure()
    passed = use_cases.lint_imports(
        config_filename=str(ROOT / "pyproject.toml"), cache_dir=None, no_logo=True
    )
    report = capfd.readouterr().out
    assert passed, report
    assert f"Contracts: {len(contracts())} kept, 0 broken." in report


def documented_layers() -> list[str]:
    """The layer lines of the docs' drawing, top first: ``L<n>  a | b | c``."""
    text = ARCHITECTURE.read_text()
    section = text.split("## Layers and allowed imports", 1)[1].split("\n## ", 1)[0]
    return [
        " | ".join(part.strip() for part in match.group(1).split("|"))
        for match in re.finditer(r"^ *L\d+ +(\S.*?) *$", section, re.MULTILINE)
    ]


def test_the_docs_draw_the_layers_the_contract_enforces() -> None:
    (contract,) = [c for c in contracts() if c["type"] == "layers"]
    layers = contract["layers"]
    assert isinstance(layers, list)
    configured = [" | ".join(part.strip() for part in layer.split("|")) for layer in layers]
    assert documented_layers() == configured


#: A module of the package past this many lines is split by responsibility (CONTRIBUTING.md).
MODULE_LINES = 400


def test_no_module_of_the_package_is_past_the_line_limit() -> None:
    modules = [
        path
        for path in sorted((ROOT / "src" / "pullstats").rglob("*"))
        if path.suffix in (".py", ".sql")
    ]
    lines = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in modules}
    assert len(lines) > 100 and max(lines.values()) > 100  # the package was found and read
    assert {name: n for name, n in lines.items() if n > MODULE_LINES} == {}
