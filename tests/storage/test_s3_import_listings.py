"""``import dockerhub-csv`` of a folder of files on a lake in object storage (a local
S3-protocol server) lists the imported parts' trees once for the command, not once a file: an
import looks for its content's part files that no record names (importers/import_records.py),
and a listing of a large lake is many requests."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pullstats.importers.dockerhub_csv import import_files
from pullstats.runtime import Runtime
from tests.exports.test_closing import register
from tests.storage.conftest import S3Server
from tests.storage.test_s3_requests import RequestLog

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]

HEADER = "namespace,unique_ip_count,pull_by_tag,pull_by_digest,version_check\n"
TREES = ("lake/imported", "lake/imported-summaries", "lake/imported-trends")


def summaries(folder: Path, weeks: range) -> list[Path]:
    """Legacy namespace summaries of acme, one a week, each with other counts."""
    folder.mkdir()
    paths = []
    for week in weeks:
        path = folder / f"acme_namespace-summary_2026-W{week:02d}.csv"
        path.write_text(HEADER + f"acme,2,{week},0,0\n")
        paths.append(path)
    return paths


def tree_listings(requests: Counter[tuple[str, str]]) -> dict[str, int]:
    return {tree: requests[("LIST", tree)] for tree in TREES}


def test_a_folder_of_files_lists_the_part_trees_once(
    s3_env: S3Server, s3_installation: tuple[Runtime, str], tmp_path: Path
) -> None:
    runtime, bucket = s3_installation
    register(runtime, "acme")
    log = RequestLog(s3_env, bucket)
    one = import_files(runtime, summaries(tmp_path / "one", range(40, 41)))
    assert [report.status for report in one] == ["imported"]
    alone = tree_listings(log.requests())
    six = import_files(runtime, summaries(tmp_path / "six", range(41, 47)))
    assert [report.status for report in six] == ["imported"] * 6
    together = tree_listings(log.requests())
    assert sum(alone.values()) > 0
    assert together == alone, (alone, together)
