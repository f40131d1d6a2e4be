"""A folder of pullstats' own exports imported whole, as a cron job would: its co-usage report
(pairs of repositories, no pull counts) is named as skipped, and is no failure."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from pullstats.accounts import service
from pullstats.db.models import ExportFile
from pullstats.exports.closing import export_closed
from pullstats.ingest.dockerhub_columns import NotPullHistory, UnrecognisedFile, parse_header
from pullstats.periods import Period
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from tests.conftest import run_cli, write_spool
from tests.exports.test_co_usage_export import HEADER
from tests.importers.test_dockerhub_csv import pull

W02 = Period.week(2026, 2)


def test_an_export_folder_imports_with_its_co_usage_report_skipped(
    runtime: Runtime, tmp_path: Path
) -> None:
    monday = datetime(2026, 1, 5, tzinfo=UTC)
    write_spool(
        runtime,
        pull("a", monday + timedelta(hours=1), "acme/api", "1.0", "192.0.2.1"),
        pull("b", monday + timedelta(days=1), "acme/api", "1.0", "192.0.2.2"),
    )
    process(runtime)
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
    export_closed(runtime, now=end_of_day(date(2026, 1, 20)))
    folder = tmp_path / "W02"
    folder.mkdir()
    with runtime.sessions() as session:
        week = select(ExportFile).where(
            ExportFile.period_kind == "week", ExportFile.period_start == W02.start
        )
        for file in session.scalars(week):
            shutil.copy(runtime.paths.exports / file.path, folder / file.file_name)
    files = sorted(folder.iterdir())
    (co_usage,) = [f for f in files if "co-usage-report" in f.name]
    fresh = tmp_path / "fresh"
    done = run_cli(fresh, "import", "dockerhub-csv", *map(str, files))
    assert done.returncode == 0, done.stderr
    assert f"{co_usage}: co-usage report: not imported (no pull counts)\n" in done.stdout
    assert "error" not in done.stderr
    imported = len(files) - 1
    assert f"from {imported} files; 1 files skipped; run `pullstats process`" in done.stdout


def test_the_co_usage_header_is_known_and_not_imported() -> None:
    # our exporter's columns, and Docker's Technographic report's, which has more
    docker = [*HEADER[:3], "PUBLISHER_ID", *HEADER[3:], "DOMAINS", "TOTAL_DOMAINS", "PCT_DOMAINS"]
    for header in (HEADER, docker):
        try:
            parse_header(header)
        except NotPullHistory as why:
            assert str(why) == "co-usage report: not imported (no pull counts)"
        else:
            raise AssertionError("a co-usage header parsed")
    # a Core report with neither pull counts nor the co-usage pair still fails
    try:
        parse_header([*HEADER[:3], "DVPP_IMAGE", "USERS"])
    except UnrecognisedFile as why:
        assert "without DATA_DOWNLOADS, VERSION_CHECKS, EVENT_COUNT or PULLS" in str(why)
    else:
        raise AssertionError("a header without counts parsed")
