"""The benchmarks that write the lake's action files by hand build a tiny data set each here: a
column added to the actions schema fails this suite, not the next benchmark run (the benchmarks
are run by hand, rarely, and rotted silently when ``user_hash`` was added)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pyarrow.parquet as pq
import pytest

from pullstats.lake_schema import ACTIONS
from pullstats.runtime import Runtime

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The benchmarks folder on ``sys.path`` (the scripts import ``_common`` as a sibling);
    ``bench.load(name)`` imports a script, dropped from ``sys.modules`` afterwards."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    loaded: list[str] = []

    def load(name: str) -> ModuleType:
        loaded.append(name)
        return importlib.import_module(name)

    yield type("Loader", (), {"load": staticmethod(load)})  # type: ignore[misc]
    for name in [*loaded, "_common"]:
        sys.modules.pop(name, None)


def _action_rows(runtime: Runtime) -> int:
    files = sorted(runtime.paths.actions.glob("day=*/actions.parquet"))
    assert files, "no action files were written"
    for path in files:
        assert pq.read_schema(path).equals(ACTIONS.schema), path
    return sum(pq.read_metadata(path).num_rows for path in files)


def test_api_pulls_writes_its_year(bench: ModuleType, runtime: Runtime) -> None:
    written = bench.load("api_pulls").write_year(
        runtime, repos=5, per_repo_day=3, seed=1, days_back=3
    )
    assert written > 0
    assert _action_rows(runtime) == written


def test_dashboard_overview_writes_its_year(bench: ModuleType, runtime: Runtime) -> None:
    written = bench.load("dashboard_overview").write_year(
        runtime, repos=5, per_repo_day=3, seed=1, days_back=3
    )
    assert written > 0
    assert _action_rows(runtime) == written


def test_export_month_writes_its_month(bench: ModuleType, tmp_path: Path) -> None:
    runtime = bench.load("export_month").generate(tmp_path / "data", actions=620, seed=1)
    try:
        assert _action_rows(runtime) == 620
    finally:
        runtime.close()
