"""Nothing in the project reads a path outside its repository.

A fresh clone has nothing beside it: a test, script, benchmark or default that reaches out of
the checkout (a sibling folder, ``Path(__file__).parents[N]`` past the root, an absolute path
into someone's machine) passes on one machine and fails on every other. This scans the Python
files under ``src/``, ``tests/``, ``benchmarks/`` and ``scripts/`` for the three shapes.
"""

from __future__ import annotations

import ast
import posixpath
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("src", "tests", "benchmarks", "scripts")
#: absolute paths into a machine's own folders; system programs (/usr/bin/…) and devices are fine
MACHINE_ROOTS = re.compile(r"^/(work|root|home|tmp|opt|mnt|srv|var|etc|Users)(/|$)")


def python_files() -> list[Path]:
    return sorted(p for folder in SCANNED for p in (ROOT / folder).rglob("*.py"))


def escapes(source: str, relative: Path) -> list[str]:
    """The places in ``source`` (the file at ``relative`` in the repo) that leave the repo."""
    found: list[str] = []
    depth = len(relative.parts)  # parents[depth - 1] is the root; parents[depth] is outside
    inner_hops: set[int] = set()  # `.parent` nodes inside a longer chain, counted with it
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if MACHINE_ROOTS.match(text):
                found.append(f"line {node.lineno}: absolute path {text!r}")
            elif (text.startswith("../") or "/../" in text) and _climbs(relative, text):
                found.append(f"line {node.lineno}: relative path {text!r} leaves the repo")
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "parents"
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
            and _is_this_file(node.value.value)
            and node.slice.value >= depth
        ):
            found.append(f"line {node.lineno}: parents[{node.slice.value}] of this file")
        if isinstance(node, ast.Attribute) and node.attr == "parent" and id(node) not in inner_hops:
            hops, inner = 0, node
            while isinstance(inner, ast.Attribute) and inner.attr == "parent":
                inner_hops.add(id(inner))
                hops, inner = hops + 1, inner.value
            if _is_this_file(inner) and hops > depth:
                found.append(f"line {node.lineno}: .parent × {hops} of this file")
    return sorted(set(found))


def _climbs(relative: Path, text: str) -> bool:
    """Whether ``text``, read from the file's folder, ends up above the repository root."""
    joined = posixpath.normpath(posixpath.join(relative.parent.as_posix(), text))
    return joined == ".." or joined.startswith("../")


def _is_this_file(node: ast.expr) -> bool:
    """``__file__``, ``Path(__file__)`` or ``Path(__file__).resolve()``/``.absolute()``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"resolve", "absolute"}
    ):
        return _is_this_file(node.func.value)
    if isinstance(node, ast.Call) and node.args:
        return _is_this_file(node.args[0])
    return isinstance(node, ast.Name) and node.id == "__file__"


@pytest.mark.parametrize("path", python_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_path_outside_the_repository(path: Path) -> None:
    assert escapes(path.read_text(), path.relative_to(ROOT)) == []


def test_the_scan_sees_each_way_out() -> None:
    # the forbidden shapes are assembled here, so that this file itself names no outside path
    up, outside, home = "..", "beside-the-repo", "/" + "home"
    here = Path("tests/api/test_x.py")
    source = "\n".join(
        [
            "from pathlib import Path",
            f"SEED = Path(__file__).resolve().parents[3] / '{outside}' / 'spec.yaml'",
            "UP = Path(__file__).parent.parent.parent.parent / 'x'",
            f"REL = '{up}/{up}/{up}/{outside}/spec.yaml'",
            f"ABS = '{home}/someone/spec.yaml'",
            "OK = Path(__file__).resolve().parents[2] / 'fixtures'",
            "FINE = ('a/../b', '/usr/bin/chromium', '/v2/users/login', '../fixtures/x')",
        ]
    )
    assert escapes(source, here) == [
        "line 2: parents[3] of this file",
        "line 3: .parent × 4 of this file",
        f"line 4: relative path '{up}/{up}/{up}/{outside}/spec.yaml' leaves the repo",
        f"line 5: absolute path '{home}/someone/spec.yaml'",
    ]


#: documents that live beside the repository, not in it: citing them sends a reader nowhere
#: (tests/test_docs.py holds the docs pages to the same list)
OUTSIDE_DOCUMENTS = re.compile(
    r"DESIGN\.md|DESIGN §|STYLE\.md|spec/dvp\.yaml|\.\./shared|shared/spec"
)


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_cites_a_document_outside_the_repository(path: Path) -> None:
    if path == Path(__file__).resolve():
        return  # the pattern itself
    cited = [
        f"line {number}: {match.group(0)}"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for match in OUTSIDE_DOCUMENTS.finditer(line)
    ]
    assert cited == [], f"{path.relative_to(ROOT)} cites what a clone does not have: {cited}"
