"""The parity suite: one input, processed and exported three ways — DuckDB on local files,
DuckDB with the lake and the exports on object storage (``PULLSTATS_LAKE_URL`` and
``PULLSTATS_EXPORTS_URL`` on a ``moto_server`` bucket), and Spark (``PULLSTATS_ENGINE=spark``,
PySpark in local mode) on local files — gives the same lake, rollups and export files.

The input is seeded into a data dir and compacted, which is then copied (keys, lake and catalog
included) for Spark; the object-storage installation shares the keys (one address, one hash,
as nodes share them) and is seeded with the same input into its bucket. The input:
the golden exports' clients (IPv4 and IPv6, an action across midnight, a 6-second gap, CSV
cells to neutralise and quote, a Docker Hub raw row, an extra repo), ten days of the demo
generator over a month's and a week's end (several namespaces), pulls whose requests are
exactly 5 s and just past 5 s apart, and late events (a second ``process`` after requests of
days already classified arrive). The three installations must hold the same action files (rows
in file order), the same rollups in the catalog, and the same export files, byte for byte,
under the same names.
"""

from __future__ import annotations

import gzip
import io
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from pullstats.accounts import service
from pullstats.config import Settings
from pullstats.db.models import (
    BreakdownRollup,
    CountryRollup,
    CoUsageRollup,
    ExportFile,
    PullRollup,
    TrendRollup,
)
from pullstats.demo.catalog import DEMO_CATALOG
from pullstats.demo.seed import demo_namespaces
from pullstats.demo.spool_encoding import to_spool_lines
from pullstats.demo.synthetic import generate_requests
from pullstats.exports.closing import export_closed
from pullstats.importers.dockerhub_csv import import_files
from pullstats.ingest.records import PullRequestRecord
from pullstats.lake.compaction import compact
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from pullstats.spark_engine import SparkEngine, spark_session
from pullstats.timestamps import micros
from tests.conftest import write_spool, write_spool_lines
from tests.exports import golden
from tests.storage.conftest import S3Server, start_moto, stop

pytest.importorskip(
    "pyspark.sql",
    reason="PySpark comes with the spark extra: pip install -e '.[test,spark]'",
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.scaleout,
    pytest.mark.s3,
    pytest.mark.xdist_group("spark"),
]

#: the three installations: the engine, and where the lake and the exports are
LEGS = ("duckdb", "s3", "spark")

#: The demo generator's days: 27 January to 5 February 2026 (the end of January, of ISO
#: week 5 on Sunday 1 February, and the start of week 6).
DEMO_START, DEMO_DAYS = date(2026, 1, 27), 10
#: ``export --through``: every week and month up to February's end has closed
THROUGH = date(2026, 3, 1)
DIGEST = "sha256:" + "d1" * 32
AGENT = "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0 os/linux arch/amd64"


def _record(event: str, when: datetime, method: str, tag: str, ip: str) -> PullRequestRecord:
    return PullRequestRecord(
        event,
        micros(when),
        method,
        "acme/edge",
        tag,
        DIGEST,
        ip,
        AGENT,
        "notification",
        micros(when + timedelta(seconds=1)),
    )


def _boundaries() -> list[PullRequestRecord]:
    """A HEAD then a GET by tag, 5 s apart exactly (one pull) and 5.000001 s apart (a check
    and a pull), at the end of 31 January (a month's last day, a Saturday), IPv4 and IPv6."""
    at = datetime(2026, 1, 31, 23, 59, 50, tzinfo=UTC)
    rows = []
    for n, (ip, gap) in enumerate(
        [
            ("192.0.2.50", timedelta(seconds=5)),
            ("2001:db8::50", timedelta(seconds=5)),
            ("192.0.2.51", timedelta(seconds=5, microseconds=1)),
            ("2001:db8::51", timedelta(seconds=5, microseconds=1)),
        ]
    ):
        rows.append(_record(f"edge-{n}-head", at, "HEAD", "1.0", ip))
        rows.append(_record(f"edge-{n}-get", at + gap, "GET", "1.0", ip))
    return rows


def _late() -> list[PullRequestRecord]:
    """Requests of days already classified, arriving after the first ``process``: a GET 2 s
    after a HEAD of :func:`_boundaries` (the check becomes a pull) and a pull on 28 January."""
    return [
        _record("late-join", datetime(2026, 1, 31, 23, 59, 52, tzinfo=UTC), "GET", "1.0",
                "192.0.2.51"),
        _record("late-new", datetime(2026, 1, 28, 6, tzinfo=UTC), "GET", "2.0", "2001:db8::77"),
    ]  # fmt: skip


def _seed(settings: Settings) -> None:
    data_dir = settings.data_dir
    runtime = Runtime.open(settings)
    try:
        with runtime.sessions.begin() as session:
            for namespace in sorted({"acme", "partner", *demo_namespaces()}):
                service.create_namespace(session, namespace)
            service.add_extra_repo(session, "acme", "partner/shared")
        hub = data_dir.parent / "hub_raw_2026-W02.csv"
        hub.write_text(golden.HUB_RAW, newline="")
        assert import_files(runtime, [hub])[0].status != "failed"
        write_spool(runtime, *golden.records(), *_boundaries())
        for table in generate_requests(
            DEMO_CATALOG, start=DEMO_START, days=DEMO_DAYS, requests_per_day=400, seed=16
        ):
            write_spool_lines(runtime, to_spool_lines(table))
        # compaction (DuckDB on both engines) makes the address-hash key: the copy shares it
        compact(runtime)
    finally:
        runtime.close()


def _run(settings: Settings) -> None:
    runtime = Runtime.open(settings)
    try:
        process(runtime)
        write_spool(runtime, *_late())
        process(runtime)
        result = export_closed(runtime, now=end_of_day(THROUGH))
        assert result.failed == [], result.failed
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Settings]]:
    root = tmp_path_factory.mktemp("parity")
    moto, endpoint = start_moto(root / "moto.log")
    server = S3Server(endpoint, root / "moto.log")
    bucket = server.bucket()
    try:
        with pytest.MonkeyPatch.context() as env:
            for name, value in server.env().items():
                env.setenv(name, value)
            legs = {
                "duckdb": Settings(data_dir=root / "duckdb"),
                "s3": Settings(
                    data_dir=root / "s3",
                    lake_url=f"s3://{bucket}/lake",
                    exports_url=f"s3://{bucket}/exports",
                ),
                "spark": Settings(data_dir=root / "spark", engine="spark", spark_master="local[2]"),
            }
            _seed(legs["duckdb"])
            # the same keys: the same address hashes
            shutil.copytree(root / "duckdb", root / "spark")
            shutil.copytree(root / "duckdb" / "keys", root / "s3" / "keys")
            _seed(legs["s3"])
            for leg in LEGS:
                _run(legs[leg])
            yield legs
            spark_session(legs["spark"]).stop()
    finally:
        stop(moto)


def _actions(settings: Settings) -> dict[str, list[dict[str, object]]]:
    lake = settings.lake
    return {
        key.split("/")[-2]: pq.read_table(io.BytesIO(lake.read_bytes(key))).to_pylist()
        for key in lake.files("actions", "actions.parquet")
    }


def test_the_action_files_are_the_same_rows_in_the_same_order(
    processed: dict[str, Settings],
) -> None:
    # the object-storage installation wrote its lake and exports into the bucket, none locally
    assert processed["s3"].lake.remote and processed["s3"].exports_store.remote
    local = processed["s3"].data_dir
    for folder in ("lake", "exports"):
        assert [p for p in (local / folder).rglob("*") if p.is_file()] == [], folder
    actions = {leg: _actions(processed[leg]) for leg in LEGS}
    on_duckdb = actions["duckdb"]
    assert len(on_duckdb) == 7 + DEMO_DAYS  # the golden input's seven days, the demo's ten
    for leg in ("s3", "spark"):
        assert list(actions[leg]) == list(on_duckdb), leg
        for day, rows in on_duckdb.items():
            assert actions[leg][day] == rows, (leg, day)
    for key in processed["duckdb"].lake.files("actions", ".parquet"):
        schema = pq.read_schema(io.BytesIO(processed["duckdb"].lake.read_bytes(key)))
        for leg in ("s3", "spark"):
            other = pq.read_schema(io.BytesIO(processed[leg].lake.read_bytes(key)))
            assert other == schema, (leg, key)


def test_the_boundaries_and_late_events_were_classified_alike(
    processed: dict[str, Settings],
) -> None:
    # worked by hand: 5 s joins, 5.000001 s does not; the late GET turns 192.0.2.51's check
    # into a pull (and its GET at :55 stays a pull of its own); the late pull on the 28th counts
    for leg in LEGS:
        actions = _actions(processed[leg])
        edge = [
            (row["action"], row["timestamp"].second)
            for day in ("day=2026-01-31", "day=2026-02-01")
            for row in actions.get(day, [])
            if row["repository"] == "edge"
        ]
        assert sorted(edge) == sorted(
            [("pull_by_tag", 50)] * 3 + [("version_check", 50)] + [("pull_by_tag", 55)] * 2
        ), leg
        late = [row for row in actions["day=2026-01-28"] if row["repository"] == "edge"]
        assert [(row["action"], row["tag"]) for row in late] == [("pull_by_tag", "2.0")], leg


def _rollups(settings: Settings) -> list[tuple[object, ...]]:
    runtime = Runtime.open(settings)
    try:
        with runtime.sessions() as session:
            rows: list[tuple[object, ...]] = []
            for table in (PullRollup, CountryRollup, BreakdownRollup, TrendRollup, CoUsageRollup):
                columns = [c for c in table.__table__.columns if c.name != "id"]
                rows += [(table.__name__, *row) for row in session.execute(select(*columns))]
            return sorted(rows, key=repr)
    finally:
        runtime.close()


def test_the_rollups_are_the_same(processed: dict[str, Settings]) -> None:
    on_duckdb = _rollups(processed["duckdb"])
    assert len(on_duckdb) > 100
    assert _rollups(processed["s3"]) == on_duckdb
    assert _rollups(processed["spark"]) == on_duckdb


def _exports(settings: Settings) -> dict[tuple[object, ...], bytes]:
    runtime = Runtime.open(settings)
    try:
        store = settings.exports_store
        with runtime.sessions() as session:
            entries = session.scalars(select(ExportFile)).all()
            return {
                (e.namespace, e.period_kind, e.period_start, e.view, e.part, e.file_name): (
                    store.read_bytes(e.path)
                )
                for e in entries
            }
    finally:
        runtime.close()


def test_the_export_files_are_the_same_bytes(processed: dict[str, Settings]) -> None:
    exports = {leg: _exports(processed[leg]) for leg in LEGS}
    on_duckdb = exports["duckdb"]
    # acme, partner, globex, initech: four views and the three reports of January, February,
    # and two weeks at least
    assert set(demo_namespaces()) == {"acme", "globex", "initech"}
    assert len(on_duckdb) >= 4 * 4 * 7
    for leg in ("s3", "spark"):
        assert sorted(exports[leg]) == sorted(on_duckdb), leg
        for key, data in on_duckdb.items():
            assert gzip.decompress(exports[leg][key]) == gzip.decompress(data), (leg, key)
            assert exports[leg][key] == data, (leg, key)
    # the golden files are among them: each installation's export of the golden week
    for leg in LEGS:
        week = {
            key[3]: gzip.decompress(data)
            for key, data in exports[leg].items()
            if key[:3] == ("acme", "week", date(2026, 1, 5))
        }
        assert len(week) == 7, leg
        for view, data in week.items():
            assert data == (golden.GOLDEN / f"acme_{view}_2026-W02.csv").read_bytes(), (leg, view)


def test_the_engine_runs_only_steps_of_the_pipeline(processed: dict[str, Settings]) -> None:
    engine = SparkEngine(processed["spark"])
    with pytest.raises(ValueError, match="parameters missing"):
        from pullstats.exports.steps import EXTRA_ACTIONS

        engine.arrow(EXTRA_ACTIONS, {"period_actions": []})
