"""`pullstats ingest logs` names the first bad lines of each reason (docs/access-logs.md).

The cap used to be five lines per file over all reasons: a file starting with eight
``invalid_name`` lines printed ``invalid_name at lines 1, 2, 3, 4, 5 and 3 more`` and no line
for the ``invalid_time`` one after them, although the docs' example gives every reason a line.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pullstats.importers import log_import
from pullstats.importers.log_import import import_logs
from pullstats.ingest import log_lines
from pullstats.runtime import Runtime
from tests.conftest import run_cli
from tests.ingest.access_log_parsing import GOOD

BAD_NAME = GOOD.replace("library/alpine", "acme/Web")  # upper case: the registry refuses it


def line(request: str = GOOD, zone: str = "+0000") -> str:
    return f"192.0.2.7 - - [05/Oct/2026:12:00:00 {zone}] {request}\n"


def test_each_reason_gets_its_line_numbers(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(8 * line(BAD_NAME) + line(zone="+1500") + line())
    done = run_cli(data_dir, "ingest", "logs", str(log))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"{log}: invalid_name at lines 1, 2, 3, 4, 5 and 3 more" in lines
    assert f"{log}: invalid_time at line 9" in lines


def reasons(errors: list[tuple[int, str, str]]) -> Counter[str]:
    return Counter(reason for _, reason, _ in errors)


@pytest.mark.parametrize("segmented", [False, True], ids=["whole", "segments"])
def test_the_lines_listed_stay_five_per_reason(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, segmented: bool
) -> None:
    # the reasons alternate, spread over many of the parser's calls when segmented: each
    # reason's first five lines are listed, never more, however the file is cut
    log = tmp_path / "access.log"
    log.write_text(30 * (line(BAD_NAME) + line(zone="+1500") + line("GET /v2/ HTTP/1.1")))
    if segmented:
        monkeypatch.setattr(log_import, "SEGMENT_BYTES", 2000)
        monkeypatch.setattr(log_lines, "BLOCK_BYTES", 700)
    (source,) = import_logs(runtime, [str(log)]).sources
    assert source.skipped == Counter(invalid_name=30, invalid_time=30, unparseable=30)
    assert reasons(source.errors) == Counter(invalid_name=5, invalid_time=5, unparseable=5)
    assert [n for n, reason, _ in source.errors if reason == "invalid_time"] == [2, 5, 8, 11, 14]
