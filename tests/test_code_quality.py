"""Lint and types are part of the one test command: ruff over the tree, mypy --strict on src
(the Spark modules against PySpark's own types in the scale-out run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # mypy alone takes half a minute: not in the fast tier


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_lint() -> None:
    result = run("ruff", "check", "src", "tests", "benchmarks", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = run("ruff", "format", "--check", "src", "tests", "benchmarks", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.scaleout
def test_mypy_strict_on_the_spark_modules_against_pyspark() -> None:
    """The README's run has no PySpark (the spark extra): there mypy takes its types as unknown.
    The scale-out run installs it, and checks the Spark modules against PySpark's own types."""
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    result = run("mypy", "src/pullstats/spark_engine.py", "src/pullstats/spark_job.py")
    assert result.returncode == 0, result.stdout + result.stderr
