"""``pullstats db upgrade --adopt`` on a catalog that records the stores' ids already (a healthy
installation, or one whose stores were moved): nothing to count again, so no `--rebuild`
advice, which costs hours on a big lake for nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, run_cli, write_one_pull


@pytest.mark.e2e  # runs the pullstats command
def test_adopt_on_the_installations_catalog_asks_for_no_rebuild(data_dir: Path) -> None:
    runtime = Runtime.open(catalog_settings(data_dir))
    write_one_pull(runtime, datetime(2026, 11, 2, 10, tzinfo=UTC))
    process(runtime)
    runtime.close()
    result = run_cli(data_dir, "db", "upgrade", "--adopt")
    assert result.returncode == 0, result.stderr
    assert "--rebuild" not in result.stdout
    lake = data_dir.resolve() / "lake"
    assert (
        "this catalog is the installation's already (it records the lake's and the exports "
        "store's ids): nothing needs counting again; the lake is at the data dir's folder "
        f"{lake}, the exports store at the data dir's folder {data_dir.resolve() / 'exports'}"
    ) in " ".join(result.stdout.split())
