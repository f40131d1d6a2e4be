"""Every benchmark script imports: a module moved or renamed under it fails here, not on the
day someone runs the benchmark."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize("script", sorted(BENCHMARKS.glob("*.py")), ids=lambda p: p.name)
def test_the_benchmark_imports(script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import _common as a sibling
    module = importlib.import_module(script.stem)
    assert module.__file__ is not None and Path(module.__file__).resolve() == script
    if script.stem != "_common":
        assert callable(getattr(module, "main", None)), f"{script.name} has no main()"
    sys.modules.pop(script.stem, None)
