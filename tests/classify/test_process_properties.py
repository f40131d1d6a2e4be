"""Properties of ``process`` over generated request streams, on a real data dir.

For seeded streams (spooled as the server would spool them; three in a thorough run):
- every request belongs to exactly one action: the stored actions are exactly the groups the
  §3 rules make of the lake's requests, and no action holds more requests than a pattern allows;
- re-running ``process``, plainly or as a full rebuild, changes nothing: byte-identical action
  files and identical rollups;
- the same stream split into two spool batches, processed one after the other, gives the same
  actions and rollups as one batch.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from pullstats.classify.actions import _read_sorted_requests, actions_of, classify_days
from pullstats.classify.partitions import hashes_collide, partition_gaps
from pullstats.classify.rules import group_requests
from pullstats.config import Settings
from pullstats.db.models import PullRollup
from pullstats.demo.catalog import DEMO_CATALOG, SyntheticCatalog, catalog_from_tags
from pullstats.demo.spool_encoding import to_spool_lines
from pullstats.demo.synthetic import generate_requests
from pullstats.duckdb_engine import connect
from pullstats.lake.ip_hash import IP_HASH_KEY
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from tests.conftest import THOROUGH, catalog_settings, fresh_runtime, write_spool_lines

START = dt.date(2026, 10, 3)  # Saturday: the stream crosses a week boundary
DAYS = 3
#: three streams in a thorough run (CI's PostgreSQL run), one in the README's command: a third,
#: as the property tests draw a third of their examples there (tests/conftest.py ``examples``)
SEEDS = (1, 7, 23) if THOROUGH else (7,)

# the demo catalog plus a library image and a single-arch nested one
_EXTRA = catalog_from_tags({"nginx": ["latest", "1.27"], "grp/sub/app": ["2.0"]}, platforms=0)
CATALOG = SyntheticCatalog(
    repositories=DEMO_CATALOG.repositories + _EXTRA.repositories,
    tags=DEMO_CATALOG.tags + _EXTRA.tags,
)


def stream(seed: int) -> pa.Table:
    return pa.concat_tables(
        generate_requests(CATALOG, start=START, days=DAYS, requests_per_day=600, seed=seed)
    )


def spool(runtime: Runtime, table: pa.Table) -> None:
    write_spool_lines(runtime, to_spool_lines(table))


def open_runtime(data_dir: Path, key_from: Path | None = None) -> Runtime:
    runtime = fresh_runtime(catalog_settings(data_dir))
    if key_from is not None:  # the same HMAC key, so ip_hash values can be compared
        runtime.paths.keys.mkdir(parents=True, exist_ok=True)
        shutil.copy(key_from / "keys" / IP_HASH_KEY, runtime.paths.keys / IP_HASH_KEY)
    return runtime


def action_files(runtime: Runtime) -> dict[str, bytes]:
    root = runtime.paths.actions
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("*/*.parquet"))}


def stored_actions(runtime: Runtime) -> pa.Table:
    root = runtime.paths.actions
    table = pa.concat_tables(pq.read_table(p) for p in sorted(root.glob("*/*.parquet")))
    return table.sort_by([(name, "ascending") for name in ("timestamp", "ip_hash", "repository")])


def rollups(runtime: Runtime) -> list[tuple[object, ...]]:
    with runtime.sessions() as session:
        rows = session.scalars(select(PullRollup)).all()
        return sorted(
            (
                r.period_kind,
                r.period_start,
                r.level,
                r.namespace,
                r.repository,
                r.reference,
                r.pull_by_tag,
                r.pull_by_digest,
                r.version_check,
                r.unique_ip_count,
            )
            for r in rows
        )


def regroup_lake(runtime: Runtime) -> tuple[pa.Table, list[int], list[str]]:
    """The lake's requests sorted as classification sorts them, grouped again by the rules."""
    connection = connect(runtime.settings)
    try:
        requests = connection.sql(
            f"""
            SELECT ts, namespace, repository, ip_hash, method, tag, digest,
                   epoch_us(ts) - lag(epoch_us(ts)) OVER w AS gap_us
            FROM read_parquet('{runtime.paths.requests}/*/*.parquet',
                              hive_partitioning = false)
            WINDOW w AS (PARTITION BY namespace, repository, ip_hash ORDER BY ts, received, id)
            ORDER BY namespace, repository, ip_hash, ts, received, id
            """
        ).to_arrow_table()
    finally:
        connection.close()
    grouped = group_requests(
        requests["gap_us"].to_pylist(),
        requests["method"].to_pylist(),
        requests["tag"].to_pylist(),
        requests["digest"].to_pylist(),
    )
    return requests.take(pa.array(grouped.first_request, pa.int64())), grouped.size, grouped.action


@dataclass
class Processed:
    seed: int
    table: pa.Table
    runtime: Runtime


@pytest.fixture(scope="module", params=SEEDS, ids=lambda seed: f"seed{seed}")
def one_batch(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Processed]:
    """One stream, spooled in one batch and processed once."""
    table = stream(request.param)
    runtime = open_runtime(tmp_path_factory.mktemp("one-batch"))
    spool(runtime, table)
    process(runtime)
    yield Processed(request.param, table, runtime)
    runtime.close()


def test_every_request_belongs_to_exactly_one_action(one_batch: Processed) -> None:
    processed = one_batch.runtime
    firsts, sizes, kinds = regroup_lake(processed)
    requests = pq.read_table(processed.paths.requests).num_rows
    actions = stored_actions(processed)
    assert requests > 1_000
    assert sum(sizes) == requests
    assert all(1 <= size <= 3 for size in sizes)  # HEAD, GET, GET of a platform at most
    assert len(sizes) == actions.num_rows
    # the stored actions are those groups: same opening request, same kind
    regrouped = Counter(
        zip(
            firsts["ts"].to_pylist(),
            firsts["ip_hash"].to_pylist(),
            firsts["repository"].to_pylist(),
            kinds,
            strict=True,
        )
    )
    stored = Counter(
        zip(
            actions["timestamp"].to_pylist(),
            actions["ip_hash"].to_pylist(),
            actions["repository"].to_pylist(),
            actions["action"].to_pylist(),
            strict=True,
        )
    )
    assert stored == regrouped
    # each action records the ruleset that made it: version 1, as docs/data-definitions.md says
    assert set(actions["ruleset_version"].to_pylist()) == {1}
    # a real stream merges requests: fewer actions than requests, and every kind occurs
    assert actions.num_rows < requests
    assert set(kinds) == {"pull_by_tag", "pull_by_digest", "version_check"}


def test_rerunning_process_changes_nothing(one_batch: Processed) -> None:
    processed = one_batch.runtime
    files, rows = action_files(processed), rollups(processed)
    assert len(files) >= DAYS and rows

    again = process(processed)
    assert again.compaction.written == 0
    assert action_files(processed) == files
    assert rollups(processed) == rows

    last = START + dt.timedelta(days=DAYS)  # a pull in flight at midnight may end past the end
    rebuilt = process(processed, rebuild_from=START - dt.timedelta(days=1), rebuild_to=last)
    assert rebuilt.actions == sum(pq.read_metadata(p).num_rows for p in _paths(processed))
    assert action_files(processed) == files
    assert rollups(processed) == rows


def test_runs_of_one_day_give_the_actions_of_one_run(one_batch: Processed) -> None:
    """``classify_days`` reads each run of days while it groups the run before: runs of one
    day, each read with the end of the day before and the start of the day after, write the
    same action files as the stream's days classified as one run."""
    processed = one_batch.runtime
    files = action_files(processed)
    days = [START + dt.timedelta(days=n) for n in range(-1, DAYS + 1)]
    written = classify_days(processed, days, span=1)
    assert written == sum(pq.read_metadata(p).num_rows for p in _paths(processed)) > 500
    assert action_files(processed) == files


def _paths(runtime: Runtime) -> list[Path]:
    return sorted(runtime.paths.actions.glob("*/*.parquet"))


@pytest.mark.slow
@pytest.mark.parametrize("split", ["halves", "interleaved"])
def test_two_batches_give_the_same_actions_as_one(
    one_batch: Processed, split: str, tmp_path: Path
) -> None:
    table, processed = one_batch.table, one_batch.runtime
    if split == "halves":  # the second batch arrives after the first was processed
        first = np.arange(table.num_rows) < table.num_rows // 2
    else:  # late data: each request lands in either batch at random
        first = np.random.default_rng(5).random(table.num_rows) < 0.5
    runtime = open_runtime(tmp_path / "two-batches", key_from=processed.paths.root)
    try:
        spool(runtime, table.filter(pa.array(first)))
        process(runtime)
        spool(runtime, table.filter(pa.array(~first)))
        process(runtime)
        assert stored_actions(runtime).equals(stored_actions(processed))
        assert rollups(runtime) == rollups(processed)
    finally:
        runtime.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_partition_gaps_are_the_lag_window(seed: int, tmp_path: Path) -> None:
    # classification computes each request's gap from the sorted rows; DuckDB's lag window over
    # the same partitions is the reference, with NULL keys (one partition in SQL) and ties
    rng = np.random.default_rng(seed)
    n = 5_000
    keys = {
        "namespace": rng.choice(["acme", "library", None], n),
        "repository": rng.choice(["api", "web", None], n),
        "ip_hash": [None if k == 0 else bytes([k]) for k in rng.integers(0, 6, n)],
    }
    requests = pa.table(
        {
            **{name: pa.array(list(values)) for name, values in keys.items()},
            "ts": pa.array(rng.integers(0, 20, n) * 1_000_000, pa.timestamp("us")),
            "received": pa.array(rng.permutation(n), pa.int64()),
        }
    )
    with connect(Settings(data_dir=tmp_path)) as connection:
        connection.register("requests", requests)
        ordered = connection.sql(
            """
            SELECT *, epoch_us(ts) - lag(epoch_us(ts)) OVER (
                PARTITION BY namespace, repository, ip_hash ORDER BY ts, received
            ) AS gap_us
            FROM requests ORDER BY namespace, repository, ip_hash, ts, received
            """
        ).to_arrow_table()
    # as several chunks, as DuckDB hands large results over
    chunked = pa.Table.from_batches(ordered.to_batches(max_chunksize=777))
    assert partition_gaps(chunked) == ordered["gap_us"].to_pylist()
    assert ordered["gap_us"].null_count > 20  # many partitions, each starting with None


def test_partitions_in_hash_order_give_the_actions_of_key_order(one_batch: Processed) -> None:
    runtime = one_batch.runtime
    last = START + dt.timedelta(days=DAYS - 1)
    hashed = _read_sorted_requests(runtime, START, last)
    by_key = _read_sorted_requests(runtime, START, last, hashed=False)
    assert hashed is not None and by_key is not None
    assert not hashes_collide(hashed)
    # the partitions do come in another order, and the actions are the same, row for row
    assert hashed["ip_hash"].to_pylist() != by_key["ip_hash"].to_pylist()
    assert actions_of(hashed).equals(actions_of(by_key))


def test_two_partitions_of_one_hash_are_noticed() -> None:
    def requests(ip_hashes: list[bytes], hashes: list[int]) -> pa.Table:
        return pa.table(
            {
                "ts": pa.array([1_000_000 * i for i in range(len(hashes))], pa.timestamp("us")),
                "namespace": ["acme"] * len(hashes),
                "repository": ["api"] * len(hashes),
                "ip_hash": pa.array(ip_hashes, pa.binary()),
                "partition_hash": pa.array(hashes, pa.uint64()),
            }
        )

    # two clients whose keys hash alike: sorted by hash and time, they interleave
    assert hashes_collide(requests([b"x", b"y", b"x"], [7, 7, 7]))
    assert hashes_collide(requests([b"x", b"y"], [7, 7]))
    # one client; two clients of different hashes
    assert not hashes_collide(requests([b"x", b"x", b"x"], [7, 7, 7]))
    assert not hashes_collide(requests([b"x", b"x", b"y"], [7, 7, 9]))
