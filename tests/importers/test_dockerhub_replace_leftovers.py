"""``--replace`` when the right import exists already, a file name with two period labels met
again, and the parts an import set aside as damaged left behind. Expected numbers are worked by
hand from the rows written here and in :mod:`tests.importers.core_reports`: the Summary report
counts acme/api 120 and web 8 pulls (data downloads) in its week, acme/api 500 in its month."""

from __future__ import annotations

from pathlib import Path

from pullstats import lake_files
from pullstats.periods import Period
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import run_cli
from tests.exports.test_closing import register
from tests.importers.core_reports import MONTH, WEEK, summary_report
from tests.importers.test_dockerhub_csv import rollups
from tests.importers.test_dockerhub_reimport import LEGACY, as_the_previous_release_wrote, imports

W10 = Period.week(2026, 10)


def _namespace_pulls(runtime: Runtime) -> dict[tuple[str, str], int]:
    """Each namespace's pulls by tag at namespace level, per period kind."""
    return {
        (namespace, kind): counts[0]
        for (kind, _, level, namespace, _, _), counts in rollups(runtime).items()
        if level == "namespace"
    }


def _records(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "lake" / lake_files.IMPORTED_FILES).glob("*.json"))


def _parts(data_dir: Path) -> list[Path]:
    trees = (lake_files.IMPORTED, lake_files.IMPORTED_SUMMARIES, lake_files.IMPORTED_TRENDS)
    return sorted(p for tree in trees for p in (data_dir / "lake" / tree).rglob("*.parquet"))


def test_replace_removes_the_other_imports_when_the_right_one_exists(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    register(runtime, "acme-lab", "acme-labs")
    path = tmp_path / "summary.csv"
    path.write_text(summary_report())
    imports(data_dir, path, "--namespace", "acme-lab")  # the typo
    said = imports(data_dir, path, "--namespace", "acme-labs")
    assert "that import is kept beside this one (--replace replaces it)" in said
    assert len(_records(data_dir)) == 2
    fixed = imports(data_dir, path, "--replace", "--namespace", "acme-labs")
    assert f"{path}: core-summary, already imported (sha256 " in fixed
    assert f"{path}: replaces its earlier import, which had --namespace acme-lab\n" in fixed
    assert "run `pullstats process`" in fixed
    assert len(_records(data_dir)) == 1
    process(runtime)
    # the week: acme/api 120 + web 8 = 128; the month: acme/api 500; acme-lab has nothing
    assert _namespace_pulls(runtime) == {("acme-labs", "week"): 128, ("acme-labs", "month"): 500}
    # nothing more to replace: already imported, and nothing said of another import
    again = imports(data_dir, path, "--replace", "--namespace", "acme-labs")
    assert "already imported" in again
    assert "replaces" not in again


def test_a_name_with_two_period_labels_imported_with_period_is_already_imported(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    register(runtime, "acme")
    path = tmp_path / "acme_namespace-summary_2026-W10_2026-04.csv"
    path.write_text(LEGACY)
    assert "1 row imported; periods 2026-W10" in imports(data_dir, path, "--period", "2026-W10")
    # a folder imported again, no --period: the period not given matches the one it had
    again = imports(data_dir, path)
    assert f"{path}: repo-summary, already imported (sha256 " in again
    assert again.endswith(") with the period 2026-W10\nimported 0 rows from 0 files\n")
    # a new import of such a name is still refused
    other = tmp_path / "other_2026-W10_2026-04.csv"
    other.write_text(LEGACY.replace("acme,api,3,", "acme,web,3,"))
    refused = run_cli(data_dir, "import", "dockerhub-csv", str(other))
    assert refused.returncode == 1
    assert "the file name has two period labels, 2026-W10 and 2026-04" in refused.stderr


def test_a_name_with_two_labels_the_previous_release_imported_is_already_imported(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    """The previous release took the first label (W10) when imported without ``--period``, and
    named the record and the parts by the content's SHA-256 alone, the period in ``given``."""
    register(runtime, "acme")
    path = tmp_path / "acme_namespace-summary_2026-W10_2026-04.csv"
    path.write_text(LEGACY)
    imports(data_dir, path, "--period", "2026-W10")
    # the file has a Namespace column: no namespace given
    as_the_previous_release_wrote(data_dir, path, given={"period": "2026-W10"})
    assert f"{path}: repo-summary, already imported" in imports(data_dir, path)
    process(runtime)
    # by tag, by digest, version checks, unique IPs: the one row, in W10
    assert {
        key[1]: counts for key, counts in rollups(runtime).items() if key[2] == "repository"
    } == {W10.start: (4, 0, 1, 3)}


def _set_aside_week_part(runtime: Runtime, data_dir: Path, import_id: str) -> None:
    """The week part of the import ``import_id`` damaged, then set aside by a rebuild."""
    (week,) = (data_dir / "lake" / lake_files.IMPORTED_SUMMARIES / "week").rglob(
        f"part-{import_id}.parquet"
    )
    week.write_bytes(b"not parquet at all\n")
    end = WEEK.start.fromordinal(WEEK.start.toordinal() + 7)
    rebuilt = run_cli(data_dir, "process", "--rebuild", "--from", str(WEEK.start), "--to", str(end))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "warning: damaged lake file" in rebuilt.stderr
    assert not week.exists()
    assert not (data_dir / "lake" / lake_files.IMPORTED_FILES / f"{import_id}.json").exists()


def test_the_parts_left_of_an_import_set_aside_are_deleted_by_the_next_import(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    register(runtime, "acme-lab", "acme-labs")
    path = tmp_path / "summary.csv"
    path.write_text(summary_report())
    imports(data_dir, path, "--namespace", "acme-lab")
    process(runtime)
    (record,) = _records(data_dir)
    _set_aside_week_part(runtime, data_dir, record.removesuffix(".json"))
    # its month part is still there, with no record, and still counted
    assert _namespace_pulls(runtime) == {("acme-lab", "month"): 500}
    said = imports(data_dir, path, "--replace", "--namespace", "acme-labs")
    assert f"{path}: core-summary, 6 rows imported" in said
    assert "deletes 1 part file of the same content that no import record names" in said
    process(runtime)
    # acme-labs: the week 120 + 8 = 128, the month 500; acme-lab has nothing left
    assert _namespace_pulls(runtime) == {("acme-labs", "week"): 128, ("acme-labs", "month"): 500}
    assert {p.parent.parent.name for p in _parts(data_dir)} == {"week", "month"}
    assert len(_parts(data_dir)) == 2


def test_the_parts_left_of_a_previous_releases_import_are_deleted_too(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    """The previous release named parts and record by the content's SHA-256 alone; its import
    set aside, re-imported under the new id, then corrected with ``--replace``."""
    register(runtime, "acme-lab", "acme-labs")
    path = tmp_path / "summary.csv"
    path.write_text(summary_report())
    imports(data_dir, path, "--namespace", "acme-lab")
    sha256 = as_the_previous_release_wrote(data_dir, path)
    process(runtime)
    _set_aside_week_part(runtime, data_dir, sha256)
    # imported again under the new id: its parts are named anew, and the old month part no
    # record names is deleted (not left beside them); then put right with --replace
    again = imports(data_dir, path, "--namespace", "acme-lab")
    assert f"{path}: core-summary, 6 rows imported" in again
    assert "deletes 1 part file of the same content that no import record names" in again
    imports(data_dir, path, "--replace", "--namespace", "acme-labs")
    process(runtime)
    assert _namespace_pulls(runtime) == {("acme-labs", "week"): 128, ("acme-labs", "month"): 500}
    assert len(_parts(data_dir)) == 2
    assert MONTH.start.isoformat() in {p.parent.name for p in _parts(data_dir)}


def test_replace_without_the_option_that_tells_the_imports_apart_imports_anew(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    """Two imports match a ``--replace`` without ``--namespace``: which to keep is not clear,
    so the file is imported with what it says itself (PUBLISHER_NAME acme), replacing both."""
    register(runtime, "acme", "acme-lab", "acme-labs")
    path = tmp_path / "summary.csv"
    path.write_text(summary_report())
    imports(data_dir, path, "--namespace", "acme-lab")
    imports(data_dir, path, "--namespace", "acme-labs")
    said = imports(data_dir, path, "--replace")
    assert f"{path}: core-summary, 6 rows imported" in said
    assert f"{path}: replaces its earlier import, which had --namespace acme-lab\n" in said
    assert f"{path}: replaces its earlier import, which had --namespace acme-labs\n" in said
    assert len(_records(data_dir)) == 1
    process(runtime)
    assert _namespace_pulls(runtime) == {("acme", "week"): 128, ("acme", "month"): 500}
