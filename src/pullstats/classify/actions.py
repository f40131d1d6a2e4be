"""Stage 2 runner: reclassify whole days of requests into ``lake/actions/day=D/actions.parquet``.

A day's actions are its classified requests plus the actions imported from Docker Hub CSVs
(``lake/imported/day=D/``, see :func:`imported_actions`), so rollups and exports count both.

A day's actions depend on the requests just before and after it (an action opened at 23:59:59
may be completed after midnight and belongs to the day it opened), so each run of days is
classified with the end of the day before and the first seconds of the day after (see
:func:`_read_sorted_requests`), and only the actions that open on its days are kept. Which
days need it after new requests arrive is :func:`pullstats.action_window.days_to_reclassify`.
Days are rewritten whole and atomically, so re-running changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pullstats import lake_files
from pullstats.action_window import JOIN_WINDOW_US, MAX_ACTION_SPAN_US
from pullstats.classify.grouping import group_columns
from pullstats.classify.rules import RULESET_VERSION
from pullstats.classify.runs import CHUNK_DAYS, RequestFiles, day_ranges
from pullstats.classify.steps import (
    ACTIONS_STEP,
    IMPORTED_ACTIONS_STEP,
    SORTED_REQUESTS,
    SORTED_REQUESTS_STEP,
)
from pullstats.config import Configured
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.lake_schema import ACTIONS, IMPORTED_ACTIONS
from pullstats.timestamps import day_micros

ACTION_COLUMNS = ACTIONS.columns

#: Threads writing the days' Parquet files.
DAY_WRITERS = 2
#: How much of the day before a range is read for every partition (see _read_sorted_requests).
CONTEXT_US = 10 * 60 * 1_000_000


def classify_days(
    runtime: Configured,
    days: Iterable[date],
    on_range: Callable[[int], None] | None = None,
    *,
    span: int = CHUNK_DAYS,
) -> int:
    """Rewrite the actions of every day in ``days``, in runs of at most ``span`` days;
    returns the number of actions written.

    Three things overlap: a thread reads the next run of days' sorted requests (DuckDB, on
    its own threads) while this one groups the run before into actions (Arrow and NumPy,
    mostly without the GIL), and a pool of threads writes the days classified before
    (compressing Parquet releases the GIL). A run is reported once its days are written.
    """
    total = 0
    days = set(days)
    files = RequestFiles(runtime)  # each day listed once: for the sizes, then for the reads
    lake = runtime.settings.lake
    sizes = {day: sum(map(lake.size_of, files(day, day))) for day in days}
    ranges = day_ranges(days, span, sizes)
    with (
        ThreadPoolExecutor(max_workers=DAY_WRITERS, thread_name_prefix="day-writer") as pool,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="day-reader") as reader,
    ):
        pending: list[tuple[list[Future[int]], int]] = []
        reads = [reader.submit(_read_range, runtime, *ranges[0], files)] if ranges else []
        for index, (first, last) in enumerate(ranges):
            read = reads.pop()
            if index + 1 < len(ranges):  # at most two runs' requests in memory at once
                reads.append(reader.submit(_read_range, runtime, *ranges[index + 1], files))
            writes = _classify_range(runtime, first, last, read.result(), pool, files)
            pending.append((writes, (last - first).days + 1))
            while len(pending) > 1:  # the run before this one: written meanwhile
                total += _finish(pending.pop(0), on_range)
        while pending:
            total += _finish(pending.pop(0), on_range)
    return total


def _finish(writes: tuple[list[Future[int]], int], on_range: Callable[[int], None] | None) -> int:
    futures, day_count = writes
    written = sum(future.result() for future in futures)
    if on_range:
        on_range(day_count)
    return written


def _read_range(
    runtime: Configured, first: date, last: date, files: RequestFiles
) -> tuple[pa.Table | None, pa.Table | None]:
    """What classifying ``first``..``last`` starts from: their sorted requests (DuckDB), or
    on Spark their actions already."""
    if runtime.settings.engine == "spark":
        return None, _spark_actions(runtime, first, last, files)
    return _read_sorted_requests(runtime, first, last, files=files), None


def _classify_range(
    runtime: Configured,
    first: date,
    last: date,
    read: tuple[pa.Table | None, pa.Table | None],
    pool: ThreadPoolExecutor,
    files: RequestFiles,
) -> list[Future[int]]:
    """Classify the days from ``first`` to ``last`` from what :func:`_read_range` read;
    their writes, handed to ``pool``."""
    requests, actions = read
    if requests is not None:
        gaps_and_starts = _gaps_and_starts(requests)  # once: the collision check needs them too
        if _hashes_collide(requests, gaps_and_starts[1]):
            requests = _read_sorted_requests(runtime, first, last, hashed=False, files=files)
            assert requests is not None  # the same files, read again
            gaps_and_starts = _gaps_and_starts(requests)
        actions = _actions_from(requests, *gaps_and_starts)
    # in file order already (actions_of): each day is one run of rows, found by bisection
    days = actions["action_day"].to_numpy() if actions is not None else None
    writes = []
    day = first
    while day <= last:
        day_actions = None
        if actions is not None and days is not None:
            wanted = np.datetime64(day, "D")
            start = int(np.searchsorted(days, wanted, side="left"))
            end = int(np.searchsorted(days, wanted, side="right"))
            day_actions = actions.slice(start, end - start)
        writes.append(pool.submit(_write_day, runtime, day, day_actions))
        day += timedelta(days=1)
    return writes


def _read_sorted_requests(
    runtime: Configured,
    first: date,
    last: date,
    *,
    hashed: bool = True,
    files: RequestFiles | None = None,
) -> pa.Table | None:
    """The requests that decide the actions opening from ``first`` to ``last``, partition by
    partition (namespace, repository, ip_hash), each in arrival order; None when there are
    none. Partitions come in the order of a hash of their key (``partition_hash``), which
    sorts in a third less time than the three strings; two partitions whose keys hash alike
    would be interleaved (:func:`_hashes_collide` finds that), so ``hashed=False`` orders
    them by the key itself.

    Besides the days themselves, that is what came just before and just after them:

    - after: the first :data:`~pullstats.action_window.MAX_ACTION_SPAN_US` of the next day,
      the furthest an action that opened on ``last`` can reach;
    - before: the last :data:`CONTEXT_US` of the day before, and the rest of that day only
      for the partitions that may carry a chain of requests into that stretch. The rules
      never let a request join across a gap of more than 5 s, so a partition whose first
      request in the stretch comes more than 5 s after its start starts afresh there, and
      what it did earlier cannot change what follows. The few others (a busy client pulling
      at the start of the stretch) get their whole day, as every partition used to.

    The gap to each one's predecessor is computed from this order (:func:`partition_gaps`), not
    with a ``lag`` window, which would sort the rows a second time (a third of the read).
    The query is the step ``classify.sorted_requests`` (:mod:`pullstats.classify.steps`).
    """
    bound = _sorted_requests_inputs(runtime, first, last, files)
    if bound is None:
        return None
    inputs, params = bound
    return DuckDBEngine(runtime.settings).arrow(SORTED_REQUESTS_STEP, inputs, params, hashed=hashed)


def _sorted_requests_inputs(
    runtime: Configured, first: date, last: date, files: RequestFiles | None = None
) -> tuple[dict[str, list[str]], dict[str, object]] | None:
    """The files and bounds ``classify.sorted_requests`` reads for ``first``..``last``."""
    files = files or RequestFiles(runtime)
    inside = files(first, last)
    before = files(first - timedelta(days=1), first - timedelta(days=1))
    after = files(last + timedelta(days=1), last + timedelta(days=1))
    if not (inside or before or after):
        return None
    stretch = _instant(day_micros(first) - CONTEXT_US)
    params: dict[str, object] = {
        "stretch": stretch,
        "carry": stretch + timedelta(microseconds=JOIN_WINDOW_US),
        "reach": _instant(day_micros(last + timedelta(days=1)) + MAX_ACTION_SPAN_US),
    }
    inputs = {
        "requests": inside,
        "requests_before": before,
        "requests_after": after,
    }
    return inputs, params


def _spark_actions(
    runtime: Configured, first: date, last: date, files: RequestFiles
) -> pa.Table | None:
    """:func:`_classify_range`'s actions on Spark (``PULLSTATS_ENGINE=spark``): the same
    step and transform, partitioned by the key itself (so no hash can collide), collected
    in file order."""
    from pullstats.spark_engine import SparkEngine, collect

    bound = _sorted_requests_inputs(runtime, first, last, files)
    if bound is None:
        return None
    inputs, params = bound
    engine = SparkEngine(runtime.settings)
    requests = engine.dataframe(SORTED_REQUESTS_STEP, inputs, params, hashed=False)
    actions = collect(engine.transform(ACTIONS_STEP, requests))
    # each key's actions come in file order: a stable sort by time and key interleaves the
    # keys as actions_of orders them (their first requests' arrival breaks the ties left)
    keys = ("timestamp", "namespace", "repository", "ip_hash")
    order = pc.sort_indices(actions, sort_keys=[(key, "ascending") for key in keys])
    return actions.take(order).cast(_ACTIONS_SCHEMA)


def _instant(micros: int) -> datetime:
    """The UTC instant ``micros`` after the epoch, as the lake's naive timestamps hold it."""
    return _EPOCH + timedelta(microseconds=micros)


_EPOCH = datetime(1970, 1, 1)


PARTITION_KEYS = ("namespace", "repository", "ip_hash")


def _hashes_collide(requests: pa.Table, starts: np.ndarray | None = None) -> bool:
    """Whether two partitions of hash-ordered ``requests`` share a hash: then some request
    follows one of the same hash but another partition (``starts``: where each partition
    starts, as :func:`_gaps_and_starts` finds it, if known)."""
    if starts is None:
        _, starts = _gaps_and_starts(requests)
    hashes = requests["partition_hash"].to_numpy()
    return bool(np.any((hashes[1:] == hashes[:-1]) & starts[1:]))


def partition_gaps(requests: pa.Table) -> list[int | None]:
    """Microseconds since the previous request of the same partition, None at a partition's
    first request, for requests sorted by :data:`PARTITION_KEYS` and then by time."""
    gaps, starts = _gaps_and_starts(requests)
    result: list[int | None] = pa.array(gaps, pa.int64(), mask=starts).to_pylist()
    return result


def _gaps_and_starts(requests: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """:func:`partition_gaps` as two arrays: the gaps (0 at a partition's first request) and
    whether each request is the first of its partition."""
    count = requests.num_rows
    if count == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.bool_)
    same = np.ones(count - 1, dtype=np.bool_)  # row i + 1 is in row i's partition
    for key in PARTITION_KEYS:
        column = requests[key].combine_chunks()
        before, after = column.slice(0, count - 1), column.slice(1)
        equal = pc.fill_null(pc.equal(after, before), False)
        both_null = pc.and_(pc.is_null(before), pc.is_null(after))  # one partition, as in SQL
        same &= pc.or_(equal, both_null).to_numpy(zero_copy_only=False)
    micros = pc.cast(pc.cast(requests["ts"], pa.timestamp("us")), pa.int64())
    ts = micros.to_numpy().astype(np.int64)
    gaps = np.diff(ts, prepend=ts[0])
    return gaps, np.concatenate([[True], ~same])


def actions_of(requests: pa.Table) -> pa.Table:
    """The actions of sorted ``requests``, in file order: by time, namespace, repository,
    ip_hash, then arrival of their first request; each day's actions are one contiguous run.
    The transform ``classify.actions`` (:mod:`pullstats.classify.steps`)."""
    return _actions_from(requests, *_gaps_and_starts(requests))


def _actions_from(requests: pa.Table, gaps: np.ndarray, starts: np.ndarray) -> pa.Table:
    """:func:`actions_of`, with the requests' gaps and partition starts already found."""
    grouped = group_columns(
        gaps,
        starts,
        requests["method"].combine_chunks(),
        requests["tag"].combine_chunks(),
        requests["digest"].combine_chunks(),
    )
    first = pa.array(grouped.first_request, pa.int64())
    # sort the first requests' keys, then gather the wide rows once, already in order
    keys = requests.select(_ACTION_ORDER).take(first)
    order = pc.sort_indices(keys, sort_keys=[(key, "ascending") for key in _ACTION_ORDER])
    firsts = requests.select(_FIRST_REQUEST_COLUMNS).take(first.take(order))
    digest = grouped.digest.take(order)
    tag = firsts["tag"]
    by_tag = pc.not_equal(tag, "")
    timestamps = firsts["ts"]
    return pa.table(
        {
            "timestamp": timestamps,
            "action_day": pc.cast(timestamps, pa.date32()),
            "namespace": firsts["namespace"],
            "repository": firsts["repository"],
            "reference": pc.if_else(by_tag, tag, digest),
            "digest": digest,
            "tag": tag,
            "http_method": grouped.http_method.take(order),
            "action": grouped.action.take(order),
            "type": firsts["type"],
            "host": firsts["host"],
            "country": firsts["country"],
            "domain": firsts["domain"],
            "user_agent_tool": firsts["user_agent_tool"],
            "user_agent_version": firsts["user_agent_version"],
            "user_agent": firsts["user_agent"],
            "ip_hash": firsts["ip_hash"],
            "user_hash": firsts["user_hash"],
            "ruleset_version": pa.repeat(pa.scalar(RULESET_VERSION, pa.int16()), len(grouped)),
        }
    )


#: The order of a day's actions, by their first request.
_ACTION_ORDER = ("ts", "namespace", "repository", "ip_hash", "received", "id")
#: What an action takes from its first request (gathered once per action: the wide part).
_FIRST_REQUEST_COLUMNS = (
    "ts", "namespace", "repository", "tag", "type", "host", "country", "domain",
    "user_agent_tool", "user_agent_version", "user_agent", "ip_hash", "user_hash",
)  # fmt: skip


#: The actions' columns as :func:`actions_of` makes them from the lake's requests.
_ACTIONS_SCHEMA = actions_of(SORTED_REQUESTS.empty_table()).schema


def _write_day(runtime: Configured, day: date, day_actions: pa.Table | None) -> int:
    """Write ``day``'s classified actions (in file order) with its imported ones."""
    settings = runtime.settings
    key = lake_files.action_key(day)
    imported = imported_actions(runtime, day)
    if imported is not None:
        day_actions = (
            imported
            if day_actions is None
            else pa.concat_tables([day_actions, imported.cast(day_actions.schema)])
        )
        day_actions = day_actions.sort_by([("timestamp", "ascending"), ("namespace", "ascending")])
    if day_actions is None or day_actions.num_rows == 0:
        if settings.lake.exists(key):
            settings.lake.delete([key])
        return 0
    # written whole in the local tmp dir, then published under its fixed name: a rerun
    # replaces the day's file, never adds a second one
    lake_files.publish_table(settings, day_actions, key, f"actions-{day.isoformat()}")
    return int(day_actions.num_rows)


def imported_actions(runtime: Configured, day: date) -> pa.Table | None:
    """The day's actions imported from Docker Hub CSVs (``pullstats import dockerhub-csv``).

    Identical rows within one file are distinct actions (Docker writes one row per action and
    no IP), but the same action arrives in several files when both the weekly and the monthly
    raw export of a period are imported. So each distinct row is kept as many times as the file
    holding it most often has it: never summed across files, never collapsed within one (the
    step ``classify.imported_actions``).
    """
    files = lake_files.imported_files(runtime.settings, day)
    if not files:
        return None
    if runtime.settings.engine == "spark":
        from pullstats.spark_engine import SparkEngine

        table = SparkEngine(runtime.settings).arrow(IMPORTED_ACTIONS_STEP, {"imported": files})
        return table.cast(IMPORTED_ACTIONS.schema.remove_metadata())
    return DuckDBEngine(runtime.settings).arrow(IMPORTED_ACTIONS_STEP, {"imported": files})
