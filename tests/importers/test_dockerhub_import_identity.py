"""What identifies an import of a Docker Hub file: its content and what it was given (the period
of a summary without period columns, the namespace of a file without a Namespace column). Two
legacy summaries of a quiet namespace with the same counts two weeks running are byte for byte
the same file: both weeks are kept. Only ``--replace`` lets an import delete another one.
Expected numbers are worked by hand from the rows written here."""

from __future__ import annotations

from pathlib import Path

from pullstats.periods import Period
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import run_cli
from tests.exports.test_closing import register
from tests.importers.core_reports import WEEK, summary_report
from tests.importers.test_dockerhub_csv import rollups
from tests.importers.test_dockerhub_reimport import LEGACY

W02, W03, W04 = Period.week(2026, 2), Period.week(2026, 3), Period.week(2026, 4)
W40, W41 = Period.week(2026, 40), Period.week(2026, 41)
QUIET = "namespace,unique_ip_count,pull_by_tag,pull_by_digest,version_check\nacme,2,10,0,0\n"


def _imports(data_dir: Path, *args: str) -> str:
    done = run_cli(data_dir, "import", "dockerhub-csv", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _weeks(runtime: Runtime, level: str) -> dict[object, tuple[int, int, int, int]]:
    return {
        start: counts
        for (kind, start, lvl, _, _, _), counts in rollups(runtime).items()
        if kind == "week" and lvl == level
    }


def test_the_same_content_in_two_weeks_keeps_both_weeks(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    register(runtime, "acme")
    w40 = tmp_path / "acme_namespace-summary_2026-W40.csv"
    w41 = tmp_path / "acme_namespace-summary_2026-W41.csv"
    w40.write_text(QUIET)
    w41.write_text(QUIET)
    said = _imports(data_dir, str(w40), str(w41))
    assert f"{w40}: namespace-summary, 1 row imported; periods 2026-W40\n" in said
    assert f"{w41}: namespace-summary, 1 row imported; periods 2026-W41\n" in said
    assert "replaces its earlier import" not in said
    assert (
        f"{w41}: the same content was imported with the period 2026-W40: that import is kept "
        "beside this one (--replace replaces it)\n"
    ) in said
    process(runtime)
    # by tag, by digest, version checks, unique IPs: the one row, in each week
    assert _weeks(runtime, "namespace") == {W40.start: (10, 0, 0, 2), W41.start: (10, 0, 0, 2)}
    # each file again, and both: already imported, with its own period
    again = _imports(data_dir, str(w41), str(w40))
    assert f"{w41}: namespace-summary, already imported (sha256 " in again
    assert ") with the period 2026-W41\n" in again
    assert ") with the period 2026-W40\n" in again
    assert again.endswith("imported 0 rows from 0 files\n")
    process(runtime)
    assert _weeks(runtime, "namespace") == {W40.start: (10, 0, 0, 2), W41.start: (10, 0, 0, 2)}


def test_another_period_is_another_import_unless_replace(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    register(runtime, "acme")
    path = tmp_path / "summary.csv"
    path.write_text(LEGACY)
    _imports(data_dir, "--period", "2026-W02", str(path))
    said = _imports(data_dir, "--period", "2026-W03", str(path))
    assert f"{path}: repo-summary, 1 row imported; periods 2026-W03\n" in said
    process(runtime)
    # by tag, by digest, version checks, unique IPs: the one row in W02 and in W03
    assert _weeks(runtime, "repository") == {W02.start: (4, 0, 1, 3), W03.start: (4, 0, 1, 3)}
    # --replace: this import replaces every other import of the content, and says each
    moved = _imports(data_dir, "--replace", "--period", "2026-W04", str(path))
    assert f"{path}: replaces its earlier import, which had the period 2026-W02\n" in moved
    assert f"{path}: replaces its earlier import, which had the period 2026-W03\n" in moved
    process(runtime)
    assert _weeks(runtime, "repository") == {W04.start: (4, 0, 1, 3)}
    # --replace with the period it has: already imported, nothing replaced
    same = _imports(data_dir, "--replace", "--period", "2026-W04", str(path))
    assert f"{path}: repo-summary, already imported" in same
    assert "replaces its earlier import" not in same


def test_another_namespace_is_another_import_unless_replace(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    register(runtime, "acme-lab", "acme-labs")
    path = tmp_path / "summary.csv"  # Docker's Summary report: no Namespace column
    path.write_text(summary_report())
    _imports(data_dir, "--namespace", "acme-lab", str(path))
    said = _imports(data_dir, "--namespace", "acme-labs", str(path))
    assert f"{path}: core-summary, 6 rows imported" in said
    assert "with --namespace acme-lab: that import is kept beside this one" in said
    process(runtime)
    found = rollups(runtime)
    assert {key[3] for key in found} == {"acme-lab", "acme-labs"}
    for namespace in ("acme-lab", "acme-labs"):
        key = ("week", WEEK.start, "repository", namespace, "api", "")
        assert found[key] == (120, 0, 30, 0)


def test_a_file_name_with_two_period_labels_is_refused(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    register(runtime, "acme")
    path = tmp_path / "x_2026-W10_2026-04.csv"
    path.write_text(LEGACY)
    done = run_cli(data_dir, "import", "dockerhub-csv", str(path))
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"{path}: error: the file name has two period labels, 2026-W10 and 2026-04: which is "
        "the period is not clear; give it with --period\n"
    )
    said = _imports(data_dir, "--period", "2026-W10", str(path))
    assert f"{path}: repo-summary, 1 row imported; periods 2026-W10\n" in said
    # a file that says its own periods may have any labels in its name
    core = tmp_path / "core_2026-W10_2026-04.csv"
    core.write_text(summary_report())
    register(runtime, "acme-labs")
    assert f"{core}: core-summary, 6 rows imported" in _imports(data_dir, str(core))
