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
        runtime, repos=5, per_repo_day=3, seed=1, days_back=1
    )
    assert written > 0
    assert _action_rows(runtime) == written


def test_dashboard_overview_writes_its_year(bench: ModuleType, runtime: Runtime) -> None:
    written = bench.load("dashboard_overview").write_year(
        runtime, repos=5, per_repo_day=3, seed=1, days_back=1
    )
    assert written > 0
    assert _action_rows(runtime) == written


def test_export_month_writes_its_month(bench: ModuleType, tmp_path: Path) -> None:
    runtime = bench.load("export_month").generate(tmp_path / "data", actions=620, seed=1)
    try:
        assert _action_rows(runtime) == 620
    finally:
        runtime.close()


def test_the_actions_table_is_the_schema_with_nulls_for_the_rest(bench: ModuleType) -> None:
    common = bench.load("_common")
    table = common.actions_table(2, {"namespace": ["a", "b"], "repository": ["r", "s"]})
    assert table.schema.equals(ACTIONS.schema)
    assert table.column("user_hash").null_count == 2
    with pytest.raises(ValueError, match="not columns"):
        common.actions_table(1, {"no_such_column": ["x"]})


def test_a_child_reports_its_own_peak_rss_not_the_benchmarks(
    bench: ModuleType, tmp_path: Path
) -> None:
    """Linux carries a process's high-water RSS into a child it forks and execs: measured
    directly, ``python -c pass`` started by a process holding 300 MiB reported 300+ MiB."""
    common = bench.load("_common")
    held = bytearray(300 * 2**20)
    held[::4096] = b"\1" * len(held[::4096])  # touch every page: resident, not just mapped
    run = common.run_child([sys.executable, "-S", "-c", "pass"], {}, tmp_path)
    assert 0 < run.peak_rss_mib < 100, run.peak_rss_mib
    assert run.seconds > 0 and run.cpu_seconds > 0  # measured (their size is no test's business)
    assert common.run_child([sys.executable, "-c", "raise SystemExit(3)"], {}, tmp_path, 3)
    del held


def test_a_command_that_cannot_start_is_named_with_the_reason(
    bench: ModuleType, tmp_path: Path
) -> None:
    common = bench.load("_common")
    missing = str(tmp_path / "no-such-command")
    with pytest.raises(SystemExit) as stopped:
        common.run_child([missing], {}, tmp_path)
    assert f"{missing}: [Errno 2] No such file or directory" in str(stopped.value)


def test_the_cold_repository_sets_are_distinct(bench: ModuleType) -> None:
    api_pulls = bench.load("api_pulls")
    for repos in (51, 1000):
        sets = api_pulls.cold_sets(repos)
        assert len(sets) == api_pulls.COLD_SETS
        assert len({frozenset(names) for names in sets}) == len(sets)
        assert all(len(set(names)) == api_pulls.SET_SIZE for names in sets)
        warm = {f"repo-{i:04d}" for i in range(api_pulls.SET_SIZE)}
        assert all(set(names) != warm for names in sets)
    with pytest.raises(SystemExit, match="--repos 51 or more"):
        api_pulls.cold_sets(50)
