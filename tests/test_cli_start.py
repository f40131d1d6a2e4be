"""A command's process starts without what it does not use: pandas stays out on DuckDB.

pyarrow imports pandas, when installed, at its first conversion of Python values; the
``pullstats`` process blocks that on the DuckDB engine (``cli.main.arrow_without_pandas``). Each
test runs a child process, as the block lasts for the process.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pullstats.cli.main import arrow_without_pandas

# what a command does with pyarrow before and after the block: lists, NumPy, tables
_CONVERSIONS = """
import sys
import numpy as np
import pyarrow as pa
from pullstats.cli.main import arrow_without_pandas
arrow_without_pandas({environ!r})
table = pa.table({{"a": [1, 2], "b": pa.array(["x", None], pa.string())}})
array = pa.array(np.arange(3))
assert table.column("b").to_pylist() == ["x", None] and array.to_pylist() == [0, 1, 2]
print("pandas" in sys.modules)
"""


def _pandas_imported(environ: dict[str, str]) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", _CONVERSIONS.format(environ=environ)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip() == "True"


# found, not imported: a child process importing pandas at collection cost each test worker a
# second and a half
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pandas") is None,
    reason="pandas is not installed: nothing for pyarrow to import",
)


def test_pyarrow_converts_without_importing_pandas_on_duckdb() -> None:
    assert _pandas_imported({}) is False
    assert _pandas_imported({"PULLSTATS_ENGINE": "duckdb"}) is False


def test_the_spark_engine_keeps_pandas() -> None:
    # PySpark hands pandas objects to pyarrow: nothing is blocked
    assert _pandas_imported({"PULLSTATS_ENGINE": "spark"}) is True
    assert _pandas_imported({"pullstats_engine": "spark"}) is True


def test_a_command_runs_without_pandas(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(
        '203.0.113.7 - - [01/Oct/2026:10:00:00 +0000] "GET /v2/acme/app/manifests/1.0 '
        'HTTP/1.1" 200 512 "-" "docker/27.3.1 go/go1.22.7"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULLSTATS_")}
    env["PULLSTATS_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pullstats", "ingest", "logs", str(log)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "imported 1 requests" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "pyarrow" in imported  # the conversions ran
    # -X importtime lists the blocked attempt as "pandas" alone: none of pandas' modules ran
    assert not [name for name in imported if name.startswith("pandas.")]


def test_the_block_is_not_installed_in_process_when_pandas_is_loaded() -> None:
    # a process that already holds pandas (as this test run may) is left as it is
    import pandas  # noqa: F401 - the case under test: pandas already imported

    finders = list(sys.meta_path)
    arrow_without_pandas({})
    assert sys.meta_path == finders
