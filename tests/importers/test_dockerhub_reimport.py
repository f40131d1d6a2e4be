"""Importing a Docker Hub file again: the same file with the same options changes nothing, and
with ``--replace`` and another namespace or period than its import gave it, replaces that
import, so that a mistyped ``--namespace`` or ``--period`` can be put right. Expected numbers
are worked by hand from the rows written here and in :mod:`tests.importers.core_reports`."""

from __future__ import annotations

import json
from pathlib import Path

from pullstats import lake_files
from pullstats.importers.dockerhub_csv import content_sha256
from pullstats.periods import Period
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import run_cli
from tests.exports.test_closing import register
from tests.importers.core_reports import WEEK, summary_report
from tests.importers.test_dockerhub_csv import rollups

W02, W03 = Period.week(2026, 2), Period.week(2026, 3)
# Docker's legacy repository summary as it names it: no period in its columns or its name
LEGACY = (
    "Namespace,Repository,Unique IP address,Pull by tag,Pull by digest,Version check\n"
    "acme,api,3,4,0,1\n"
)


def imports(data_dir: Path, path: Path, *options: str) -> str:
    """``pullstats import dockerhub-csv OPTIONS PATH``, which succeeds: what it printed."""
    done = run_cli(data_dir, "import", "dockerhub-csv", *options, str(path))
    assert done.returncode == 0, done.stderr
    return done.stdout


def as_the_previous_release_wrote(
    data_dir: Path, path: Path, given: dict[str, str] | None = None
) -> str:
    """Rewrite the import of ``path`` as an earlier release kept it: record and part files
    named by the content's SHA-256 alone, the record with ``given`` as the options it used (or,
    older still, none kept). The SHA-256."""
    sha256 = content_sha256(path)
    (record,) = (data_dir / "lake" / lake_files.IMPORTED_FILES).glob(f"{sha256}*.json")
    older = json.loads(record.read_text())
    if given is None:
        del older["given"]
    else:
        older["given"] = given
    record.unlink()
    record.with_name(f"{sha256}.json").write_text(json.dumps(older))
    for part in (data_dir / "lake").rglob(f"part-{sha256}*.parquet"):
        part.rename(part.with_name(f"part-{sha256}.parquet"))
    return sha256


def test_another_namespace_replaces_the_import_that_used_a_mistyped_one(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    register(runtime, "acme-labs")
    path = tmp_path / "summary.csv"  # Docker's Summary report: no Namespace column
    path.write_text(summary_report())
    imports(data_dir, path, "--namespace", "acme-lab")
    process(runtime)
    assert {key[3] for key in rollups(runtime)} == {"acme-lab"}

    again = imports(data_dir, path, "--replace", "--namespace", "acme-labs")
    assert f"{path}: core-summary, 6 rows imported" in again
    assert f"{path}: replaces its earlier import, which had --namespace acme-lab\n" in again
    process(runtime)
    found = rollups(runtime)
    assert {key[3] for key in found} == {"acme-labs"}  # nothing left under the typo
    assert found[("week", WEEK.start, "repository", "acme-labs", "api", "")] == (120, 0, 30, 0)
    # the same options once more, or none (a folder imported again): nothing to do
    for options in (["--namespace", "acme-labs"], []):
        same = imports(data_dir, path, *options)
        assert f"{path}: core-summary, already imported (sha256 " in same
        assert same.endswith(") with --namespace acme-labs\nimported 0 rows from 0 files\n")


def test_another_period_replaces_the_import_that_used_a_wrong_one(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    register(runtime, "acme")
    path = tmp_path / "summary.csv"
    path.write_text(LEGACY)
    # a period long past: its one row is skipped, and the file was still recorded as imported
    nothing = run_cli(data_dir, "import", "dockerhub-csv", "--period", "1999-01", str(path))
    assert "0 rows imported, 1 row skipped (period_out_of_range 1)" in nothing.stdout
    # the period given, since the file has none of its own (it showed " – ")
    assert f"{path}:2: skipped (period_out_of_range): 1999-01-01 – 1999-01-31" in nothing.stderr
    assert f"{path}: repo-summary, 1 row imported; periods 2026-W02" in imports(
        data_dir, path, "--period", "2026-W02"
    )
    process(runtime)
    moved = imports(data_dir, path, "--replace", "--period", "2026-W03")
    assert f"{path}: replaces its earlier import, which had the period 2026-W02\n" in moved
    process(runtime)
    weeks = {
        (start, level): counts
        for (kind, start, level, _, _, _), counts in rollups(runtime).items()
        if kind == "week"
    }
    # by tag, by digest, version checks, unique IPs: the one row, in W03 alone; its namespace
    # adds up the counts, and knows no unique IPs (repositories' cannot be added)
    assert weeks == {
        (W03.start, "repository"): (4, 0, 1, 3),
        (W03.start, "namespace"): (4, 0, 1, 0),
    }
    # a file name's label is the period too, when no --period is given; none at all keeps it
    named = tmp_path / "summary_2026-W03.csv"
    named.write_text(LEGACY)
    assert f"{named}: repo-summary, already imported" in imports(data_dir, named)
    assert "already imported" in imports(data_dir, path)


def test_a_record_of_an_earlier_version_keeps_the_file_imported(
    runtime: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    """A record written before imports kept the options they used does not say which: the file
    stays imported whatever the options, as before."""
    register(runtime, "acme")
    path = tmp_path / "summary.csv"
    path.write_text(LEGACY)
    imports(data_dir, path, "--period", "2026-W02")
    as_the_previous_release_wrote(data_dir, path)
    assert "already imported" in imports(data_dir, path, "--period", "2026-W03")
    process(runtime)
    assert {key[1] for key in rollups(runtime) if key[0] == "week"} == {W02.start}
