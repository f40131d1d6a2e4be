"""The lake and the exports in folders on another filesystem than the data dir (a shared mount,
a volume of their own): files are staged in the data dir's ``tmp``, and a rename cannot cross
filesystems, so a store there is written by a copy beside the file renamed over it."""

from __future__ import annotations

import csv
import gzip
import io
import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pullstats.exports.closing import export_closed
from pullstats.pipeline import end_of_day
from tests.conftest import catalog_settings, fresh_runtime
from tests.exports.test_closing import WEEK, add_requests, at, files, pull, register

#: a tmpfs on Linux: another filesystem than the tests' temporary folders
SHARED_MEMORY = Path("/dev/shm")


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Path]:
    if not SHARED_MEMORY.is_dir() or SHARED_MEMORY.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second filesystem here (/dev/shm is not another one)")
    folder = Path(tempfile.mkdtemp(prefix="pullstats-test-", dir=SHARED_MEMORY))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_lake_and_exports_on_another_filesystem_are_written_whole(
    data_dir: Path, elsewhere: Path
) -> None:
    lake, exports = elsewhere / "lake", elsewhere / "exports"
    settings = catalog_settings(data_dir, lake_url=str(lake), exports_url=str(exports))
    runtime = fresh_runtime(settings)
    try:
        register(runtime, "acme")
        add_requests(
            runtime,
            pull("a", at(WEEK.start, 60), "acme/api", "1.0", "192.0.2.1"),
            pull("b", at(WEEK.start, 120), "acme/api", "1.0", "192.0.2.2"),
            pull("c", at(WEEK.start + timedelta(days=2), 60), "acme/web", "2.0", "192.0.2.1"),
        )
        done = export_closed(runtime, now=end_of_day(WEEK.end) + timedelta(hours=3))
        assert [(task.namespace, task.period) for task in done.exported] == [("acme", WEEK)]
        entry = files(runtime, "acme", WEEK)["repo-summary"]
        with gzip.open(exports / entry.path, "rt", encoding="utf-8", newline="") as text:
            rows = list(csv.DictReader(io.StringIO(text.read())))
    finally:
        runtime.close()
    figures = {row["repository"]: (row["pull_by_tag"], row["unique_ip_count"]) for row in rows}
    assert figures == {"api": ("2", "2"), "web": ("1", "1")}
    # both stores hold their descriptions and the lake its days; no copy was left half-way
    assert (lake / "_meta.json").is_file() and (exports / "_exports.json").is_file()
    assert list(lake.glob("requests/day=*/*.parquet"))
    left = [p for p in elsewhere.rglob(".*") if p.is_file()]
    assert left == []
    assert not any(data_dir.joinpath("tmp").rglob("*.tmp"))
    assert not (data_dir / "lake").exists() and not (data_dir / "exports").exists()
