"""A damaged Parquet file of the lake stops nothing: ``process``, ``ingest logs`` and ``ingest
registry-log`` move it to ``lake/set-aside/damaged-files/`` with its bytes as they were, say so
on stderr, and carry on with every other file and day (lake/damaged_files.py)."""

from __future__ import annotations

import os
from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import select

from pullstats.api.metrics import SetAsideCollector
from pullstats.db.models import PullRollup
from pullstats.db.state import pending_days
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, fresh_runtime, run_cli, write_spool
from tests.lake.test_refused import DAY, NOON, actions, entry, lake_ids, notified


def pulls(day: str, *addresses: int, minute: int = 0) -> list[str]:
    """nginx combined lines: one GET of acme/api:1.0 a minute from each address, on ``day``
    (``01/Oct/2026``); each is one pull_by_tag (other addresses: other clients)."""
    return [
        f"203.0.113.{address} - - [{day}:12:{minute + index:02d}:00 +0000] "
        '"GET /v2/acme/api/manifests/1.0 HTTP/1.1" 200 1234 "-" "docker/27.3.1 go/go1.22.7"\n'
        for index, address in enumerate(addresses)
    ]


def write_log(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines))
    return path


def only_part(data_dir: Path, table: str, day: str) -> Path:
    [part] = (data_dir / "lake" / table / f"day={day}").glob("*.parquet")
    return part


def namespace_rollups(data_dir: Path) -> dict[tuple[str, date], tuple[int, int]]:
    """(period kind, start) → (pull_by_tag, unique_ip_count) of namespace acme."""
    runtime = fresh_runtime(catalog_settings(data_dir))
    try:
        with runtime.sessions() as session:
            rows = session.execute(
                select(PullRollup).where(PullRollup.level == "namespace")
            ).scalars()
            return {
                (row.period_kind, row.period_start): (row.pull_by_tag, row.unique_ip_count)
                for row in rows
                if row.namespace == "acme"
            }
    finally:
        runtime.close()


def cut_short(part: Path) -> bytes:
    """Truncate ``part`` to 1000 bytes (its footer gone, as on a full disk); its bytes now."""
    os.truncate(part, 1000)
    return part.read_bytes()


def test_a_truncated_request_part_is_set_aside_and_every_other_day_carries_on(
    data_dir: Path, tmp_path: Path
) -> None:
    # 1 October 2026 is a Thursday (week of 28 September), 5 and 6 October the next week
    first = write_log(
        tmp_path / "a.log", pulls("01/Oct/2026", 1, 2, 3) + pulls("05/Oct/2026", 4, 5)
    )
    assert run_cli(data_dir, "ingest", "logs", str(first)).returncode == 0
    assert run_cli(data_dir, "process").returncode == 0
    assert namespace_rollups(data_dir) == {
        ("week", date(2026, 9, 28)): (3, 3),
        ("week", date(2026, 10, 5)): (2, 2),
        ("month", date(2026, 10, 1)): (5, 5),
    }
    part = only_part(data_dir, "requests", "2026-10-01")
    damaged = cut_short(part)
    kept = data_dir / "lake" / "set-aside" / "damaged-files" / part.relative_to(data_dir / "lake")

    # the day's rebuild reads it: the file goes, the day is counted without its requests
    rebuilt = run_cli(
        data_dir, "process", "--rebuild", "--from", "2026-10-01", "--to", "2026-10-02"
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert not part.exists()
    assert kept.read_bytes() == damaged
    warning = next(line for line in rebuilt.stderr.splitlines() if line.startswith("warning:"))
    assert warning.startswith(f"warning: damaged lake file {part} (")
    assert f"moved to {kept}; its rows are no longer in the lake: 2026-10-01 is counted" in warning
    assert "--rebuild --from 2026-10-01 --to 2026-10-02" in warning
    assert "2 actions on 2 days" not in rebuilt.stdout  # the day had 3, and has none now
    assert "; 0 actions on 2 days; 2 periods rolled up" in rebuilt.stdout
    assert namespace_rollups(data_dir) == {
        ("week", date(2026, 10, 5)): (2, 2),
        ("month", date(2026, 10, 1)): (2, 2),
    }

    # another day's import and process go on; the damaged file stays where it was put
    second = write_log(tmp_path / "b.log", pulls("06/Oct/2026", 6))
    imported = run_cli(data_dir, "ingest", "logs", str(second))
    assert imported.returncode == 0, imported.stderr
    assert run_cli(data_dir, "process").returncode == 0
    assert namespace_rollups(data_dir) == {
        ("week", date(2026, 10, 5)): (3, 3),
        ("month", date(2026, 10, 1)): (3, 3),
    }
    assert kept.read_bytes() == damaged

    status = run_cli(data_dir, "status")
    assert status.returncode == 0, status.stderr
    assert (
        "damaged lake files set aside: 1 (requests/day=2026-10-01/"
        f"{part.name}) in {data_dir / 'lake' / 'set-aside' / 'damaged-files'}"
    ) in status.stdout.splitlines()


def test_the_days_logs_imported_again_count_it_again(data_dir: Path, tmp_path: Path) -> None:
    log = write_log(tmp_path / "a.log", pulls("01/Oct/2026", 1, 2, 3))
    assert run_cli(data_dir, "ingest", "logs", str(log)).returncode == 0
    assert run_cli(data_dir, "process").returncode == 0
    cut_short(only_part(data_dir, "requests", "2026-10-01"))
    # the import reads the lake (the overlap guard, duplicates): the file goes, the log's
    # requests are no longer in the lake, so they are all written again
    again = run_cli(data_dir, "ingest", "logs", str(log))
    assert again.returncode == 0, again.stderr
    assert "3 new, 0 already in the lake" in again.stdout
    assert "warning: damaged lake file" in again.stderr
    assert run_cli(data_dir, "process").returncode == 0
    assert namespace_rollups(data_dir)[("week", date(2026, 9, 28))] == (3, 3)


def test_a_damaged_actions_file_is_classified_again_from_its_requests(
    data_dir: Path, tmp_path: Path, runtime: Runtime
) -> None:
    log = write_log(tmp_path / "a.log", pulls("05/Oct/2026", 4, 5) + pulls("06/Oct/2026", 6))
    assert run_cli(data_dir, "ingest", "logs", str(log)).returncode == 0
    assert run_cli(data_dir, "process").returncode == 0
    actions = only_part(data_dir, "actions", "2026-10-05")
    actions.write_bytes(b"not parquet at all\n")
    # the rollups of 6 October's week read 5 October's actions
    rebuilt = run_cli(data_dir, "process", "--rebuild", "--from", "2026-10-06")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "the actions of 2026-10-05 are classified again from its requests" in rebuilt.stderr
    kept = data_dir / "lake" / "set-aside" / "damaged-files" / "actions" / "day=2026-10-05"
    assert (kept / "actions.parquet").read_bytes() == b"not parquet at all\n"
    # classified again in the same run: nothing is missing, nothing waits
    assert pq.read_table(actions).num_rows == 2
    assert namespace_rollups(data_dir)[("week", date(2026, 10, 5))] == (3, 3)
    with runtime.sessions() as session:
        assert pending_days(session) == set()


def test_export_sets_a_damaged_actions_file_aside_and_exports_its_period_once_whole(
    data_dir: Path, tmp_path: Path
) -> None:
    assert run_cli(data_dir, "namespaces", "add", "acme").returncode == 0
    log = write_log(tmp_path / "a.log", pulls("05/Oct/2026", 4, 5) + pulls("06/Oct/2026", 6))
    assert run_cli(data_dir, "ingest", "logs", str(log)).returncode == 0
    assert run_cli(data_dir, "process").returncode == 0
    only_part(data_dir, "actions", "2026-10-05").write_bytes(b"")
    # the week of 5 October and October read the file: both wait, nothing half-counted is
    # published; the day waits for process
    exported = run_cli(data_dir, "export", "--through", "2026-11-01")
    assert exported.returncode == 1
    errors = [line for line in exported.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert all(
        "damaged lake file actions/day=2026-10-05/actions.parquet set aside; the period is "
        "exported after `pullstats process` has classified its day again" in line
        for line in errors
    ), errors
    status = run_cli(data_dir, "status").stdout
    assert "days waiting for process: 1 (2026-10-05 … 2026-10-05)" in status
    assert run_cli(data_dir, "process").returncode == 0
    again = run_cli(data_dir, "export", "--through", "2026-11-01")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("exported 2 namespace periods")
    assert namespace_rollups(data_dir)[("month", date(2026, 10, 1))] == (3, 3)


def test_a_damaged_page_duckdb_names_no_file_for_is_found_among_the_runs_files(
    data_dir: Path, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "a.log", pulls("01/Oct/2026", 1, 2, 3) + pulls("02/Oct/2026", 4))
    assert run_cli(data_dir, "ingest", "logs", str(log)).returncode == 0
    assert run_cli(data_dir, "process").returncode == 0
    part = only_part(data_dir, "requests", "2026-10-01")
    data = bytearray(part.read_bytes())
    data[4:1504] = bytes(1500)  # the first page headers zeroed; the footer whole
    part.write_bytes(bytes(data))
    # DuckDB says only "TProtocolException: Invalid data": the run's files are checked
    rebuilt = run_cli(
        data_dir, "process", "--rebuild", "--from", "2026-10-01", "--to", "2026-10-02"
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"warning: damaged lake file {part} (Couldn't deserialize thrift" in rebuilt.stderr
    kept = data_dir / "lake" / "set-aside" / "damaged-files" / part.relative_to(data_dir / "lake")
    assert kept.read_bytes() == bytes(data)
    assert "; 1 actions on 2 days; 2 periods rolled up" in rebuilt.stdout
    assert namespace_rollups(data_dir) == {
        ("week", date(2026, 9, 28)): (1, 1),
        ("month", date(2026, 10, 1)): (1, 1),
    }


RAW = Path(__file__).resolve().parents[1] / "fixtures" / "dockerhub" / "hub_raw_2026-W02.csv"


def test_a_damaged_imported_part_comes_back_with_its_csv_imported_again(data_dir: Path) -> None:
    assert run_cli(data_dir, "import", "dockerhub-csv", str(RAW)).returncode == 0
    assert run_cli(data_dir, "process").returncode == 0
    week = ("week", date(2026, 1, 5))
    before = namespace_rollups(data_dir)[week]
    part = only_part(data_dir, "imported", "2026-01-05")
    damaged = cut_short(part)
    rebuilt = run_cli(data_dir, "process", "--rebuild", "--from", "2026-01-05")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"warning: damaged lake file {part} (" in rebuilt.stderr
    assert "import the Docker Hub CSV it came from again" in rebuilt.stderr
    aside = data_dir / "lake" / "set-aside" / "damaged-files"
    assert (aside / part.relative_to(data_dir / "lake")).read_bytes() == damaged
    # the file's three pulls by tag of 5 January (its rows 2-4) are no longer counted
    assert namespace_rollups(data_dir)[week] == (before[0] - 3, before[1])
    # its record was set aside with it: the same file imports again, the part with it
    assert (aside / "imported-files" / f"{part.stem.removeprefix('part-')}.json").exists()
    again = run_cli(data_dir, "import", "dockerhub-csv", str(RAW))
    assert again.returncode == 0, again.stderr
    assert "already imported" not in again.stdout
    assert run_cli(data_dir, "process").returncode == 0
    assert namespace_rollups(data_dir)[week] == before


def test_the_files_set_aside_are_a_metric(runtime: Runtime) -> None:
    write_spool(runtime, notified("a", "192.0.2.1", NOON))
    process(runtime)
    registry = CollectorRegistry()
    registry.register(SetAsideCollector(runtime.settings))
    assert "pullstats_damaged_lake_files 0.0" in generate_latest(registry).decode()
    cut_short(only_part(runtime.paths.root, "requests", DAY.isoformat()))
    process(runtime, rebuild_from=DAY)
    assert "pullstats_damaged_lake_files 1.0" in generate_latest(registry).decode()


def two_parts_and_a_registry_log(runtime: Runtime, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two request parts of 6 January 2026 (``r-a``, ``r-b``; then ``r-c``, ``r-d``, each a
    pull by tag of its own address) and a registry log refusing ``r-a`` and ``r-c``: the
    parts, and the log."""
    write_spool(runtime, notified("r-a", "192.0.2.1", NOON), notified("r-b", "192.0.2.2", NOON))
    process(runtime)
    write_spool(runtime, notified("r-c", "192.0.2.3", NOON), notified("r-d", "192.0.2.4", NOON))
    process(runtime)
    assert actions(runtime, DAY) == Counter(pull_by_tag=4)
    parts = {
        tuple(pq.read_table(part, columns=["id"])["id"].to_pylist()): part
        for part in (runtime.paths.root / "lake" / "requests" / f"day={DAY}").iterdir()
    }
    first, second = parts[("event-r-a", "event-r-b")], parts[("event-r-c", "event-r-d")]
    log = tmp_path / "registry.log"
    log.write_text(entry("r-a", NOON, 404) + entry("r-c", NOON, 404) + entry("r-d", NOON, 200))
    return first, second, log


def test_registry_log_sets_a_damaged_request_part_aside_and_sets_the_others_refused_aside(
    runtime: Runtime, tmp_path: Path
) -> None:
    first, _second, log = two_parts_and_a_registry_log(runtime, tmp_path)
    damaged = cut_short(first)
    lake = runtime.paths.root / "lake"
    done = run_cli(runtime.paths.root, "ingest", "registry-log", str(log))
    assert done.returncode == 0, done.stderr
    kept = lake / "set-aside" / "damaged-files" / first.relative_to(lake)
    assert not first.exists()
    assert kept.read_bytes() == damaged
    [warning] = done.stderr.splitlines()
    assert warning.startswith(f"warning: damaged lake file {first} (Parquet magic bytes not found")
    assert (
        f"moved to {kept}; its rows are no longer in the lake: {DAY} is counted without them"
    ) in warning
    # r-a went with the damaged part; r-c is set aside as refused from the other part
    assert done.stdout.splitlines() == [
        f"{log}: 3 lines read, 3 manifest responses, 2 refused",
        f"set aside 1 notified requests the registry refused (404: 1) on 1 day ({DAY}); run "
        "`pullstats process` to recount them; 1 refused responses match no request in the "
        "lake (not notified, or set aside before)",
    ]
    assert lake_ids(runtime) == {"event-r-d"}
    process(runtime)
    assert actions(runtime, DAY) == Counter(pull_by_tag=1)
    status = run_cli(runtime.paths.root, "status").stdout.splitlines()
    assert (
        f"damaged lake files set aside: 1 (requests/day={DAY}/{first.name}) in "
        f"{lake / 'set-aside' / 'damaged-files'}"
    ) in status


def test_registry_log_sets_aside_a_part_it_finds_damaged_only_when_rewriting_it(
    runtime: Runtime, tmp_path: Path
) -> None:
    _first, second, log = two_parts_and_a_registry_log(runtime, tmp_path)
    data = bytearray(second.read_bytes())
    meta = pq.read_metadata(second).row_group(0)
    after_ts = meta.column(2).data_page_offset
    data[after_ts : after_ts + 400] = bytes(400)  # the pages after ``id`` and ``ts`` zeroed
    second.write_bytes(bytes(data))
    done = run_cli(runtime.paths.root, "ingest", "registry-log", str(log))
    assert done.returncode == 0, done.stderr
    assert f"warning: damaged lake file {second} (Couldn't deserialize thrift" in done.stderr
    lake = runtime.paths.root / "lake"
    assert (lake / "set-aside" / "damaged-files" / second.relative_to(lake)).exists()
    # r-a is set aside as refused; r-c was found, then went with its part, and is not counted
    assert done.stdout.splitlines()[1].startswith(
        f"set aside 1 notified requests the registry refused (404: 1) on 1 day ({DAY});"
    )
    assert lake_ids(runtime) == {"event-r-b"}
    process(runtime)
    assert actions(runtime, DAY) == Counter(pull_by_tag=1)
