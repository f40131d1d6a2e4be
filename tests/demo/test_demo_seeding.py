"""A ``pullstats demo`` first run that is interrupted while it seeds is finished by the next
run as it began: the same requests, though the next run is asked for another
``--requests-per-day`` (or runs on a later day), not a second data set mixed into the first."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from types import FrameType

import pytest

from pullstats.demo.seed import MARKER, PLAN, seed_demo
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, fresh_runtime


def _spool_ids(root: Path) -> set[str]:
    return {
        json.loads(line)["id"]
        for segment in (root / "spool").iterdir()
        for line in segment.read_bytes().splitlines()
        if line.strip()
    }


class _CtrlCOnceSpooled:
    """A signal handler: Ctrl-C at the first tick after requests reached ``root``'s spool."""

    def __init__(self, root: Path) -> None:
        self.spool = root / "spool"

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        if self.spool.is_dir() and any(p.stat().st_size for p in self.spool.iterdir()):
            signal.setitimer(signal.ITIMER_REAL, 0)
            raise KeyboardInterrupt


def _seeded(root: Path, requests_per_day: int) -> tuple[Runtime, int]:
    runtime = fresh_runtime(catalog_settings(root))
    return runtime, seed_demo(runtime, requests_per_day=requests_per_day).generated


def test_a_run_after_an_interrupted_seed_generates_the_first_runs_requests(
    tmp_path: Path,
) -> None:
    clean, generated = _seeded(tmp_path / "clean", 40)
    clean.close()
    wanted = _spool_ids(tmp_path / "clean")
    assert len(wanted) == generated > 0

    root = tmp_path / "interrupted"
    runtime = fresh_runtime(catalog_settings(root))
    before = signal.signal(signal.SIGALRM, _CtrlCOnceSpooled(root))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
        with pytest.raises(KeyboardInterrupt):
            seed_demo(runtime, requests_per_day=40)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
    assert not (root / MARKER).exists() and (root / PLAN).is_file()
    partial = _spool_ids(root)
    assert partial < wanted  # cut short

    # asked for another number a day: finishes the first run's data set, and says so
    seeded = seed_demo(runtime, requests_per_day=3)
    runtime.close()
    assert seeded.resumed_per_day == 40
    assert seeded.generated == generated
    assert _spool_ids(root) == wanted
    assert (root / MARKER).is_file() and not (root / PLAN).exists()
    assert json.loads((root / MARKER).read_text())["requests"] == generated


def test_an_uninterrupted_run_keeps_no_plan(tmp_path: Path) -> None:
    runtime, generated = _seeded(tmp_path / "d", 5)
    runtime.close()
    assert generated > 0
    assert sorted(p.name for p in (tmp_path / "d").iterdir() if p.suffix == ".json") == [MARKER]
