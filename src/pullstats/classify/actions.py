"""Stage 2 runner: reclassify whole days of requests into ``lake/actions/day=D/actions.parquet``.

A day's actions are its classified requests plus the actions imported from Docker Hub CSVs
(``lake/imported/day=D/``, :mod:`pullstats.classify.day_files`), so rollups and exports count
both.

A day's actions depend on the requests just before and after it (an action opened at 23:59:59
may be completed after midnight and belongs to the day it opened), so each run of days is
classified with the end of the day before and the first seconds of the day after (see
:func:`_read_sorted_requests`), and only the actions that open on its days are kept. Which
days need it after new requests arrive is :func:`pullstats.action_window.days_to_reclassify`;
the days after those whose grouping changes with them follow (:mod:`pullstats.classify.carry`).
Days are rewritten whole and atomically, so re-running changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pullstats.action_window import JOIN_WINDOW_US, MAX_ACTION_SPAN_US
from pullstats.classify.carry import (
    CarryOut,
    changed,
    handed_over,
    opening_actions,
    reaches_back,
    taken_in,
)
from pullstats.classify.day_files import write_day
from pullstats.classify.grouping import ActionColumns, group_columns
from pullstats.classify.partitions import gaps_and_starts, hashes_collide
from pullstats.classify.rules import RULESET_VERSION
from pullstats.classify.runs import CHUNK_DAYS, RequestFiles, day_ranges
from pullstats.classify.steps import (
    ACTIONS_STEP,
    SORTED_REQUESTS,
    SORTED_REQUESTS_STEP,
)
from pullstats.config import Configured
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.lake_schema import ACTIONS
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
    follow: Callable[[date], bool] | None = None,
) -> int:
    """Rewrite the actions of every day in ``days``, in runs of at most ``span`` days;
    returns the number of actions written.

    Then the days around follow as far as the grouping changed (:mod:`pullstats.classify.carry`):
    a day after a run whose stored actions do not open as the run now hands them over is
    classified too, from what the run handed it, and so on; and the day before a run whose
    start depends on more than the one day it reads before it. ``follow`` is asked about each
    such day (whether it may be classified; the caller records it); without it, none follows.

    Three things overlap: a thread reads the next run of days' sorted requests (DuckDB, on
    its own threads) while this one groups the run before into actions (Arrow and NumPy,
    mostly without the GIL), and a pool of threads writes the days classified before
    (compressing Parquet releases the GIL). A run is reported once its days are written.
    """
    days = set(days)
    files = RequestFiles(runtime)  # each day listed once: for the sizes, then for the reads
    lake = runtime.settings.lake
    sizes = {day: sum(map(lake.size_of, files(day, day))) for day in days}
    ranges = day_ranges(days, span, sizes)
    total, carries, back = _classify_runs(runtime, ranges, {}, files, on_range)
    while follow is not None:
        # the days written: does each day after a run open as the run hands it over?
        seeds = {
            carry.day: carry.taken_in
            for carry in carries
            if changed(runtime.settings, carry) and follow(carry.day)
        }
        earlier = {day for day in back - days - set(seeds) if follow(day)}
        if not (seeds or earlier):
            break
        days |= seeds.keys() | earlier
        # one day a run, each from its own seed (two days in a row, after runs of one day: the
        # second's seed may be stale, and the next round finds it so)
        ranges = [(day, day) for day in sorted(seeds.keys() | earlier)]
        written, carries, back = _classify_runs(
            runtime, ranges, seeds, RequestFiles(runtime), on_range
        )
        total += written
    return total


def _classify_runs(
    runtime: Configured,
    ranges: list[tuple[date, date]],
    seeds: dict[date, frozenset[str] | None],
    files: RequestFiles,
    on_range: Callable[[int], None] | None,
) -> tuple[int, list[CarryOut], set[date]]:
    """Classify and write ``ranges``, a run whose first day has a seed starting from it
    (:func:`_classify_range`); the actions written, what each run hands the day after, and
    the days before runs whose start they may decide (:func:`.carry.reaches_back`)."""
    total = 0
    carries: list[CarryOut] = []
    back: set[date] = set()
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
            writes, carry, reaches = _classify_range(
                runtime, first, last, read.result(), pool, files, seeds.get(first)
            )
            carries.append(carry)
            if reaches:
                back.add(first - timedelta(days=1))
            pending.append((writes, (last - first).days + 1))
            while len(pending) > 1:  # the run before this one: written meanwhile
                total += _finish(pending.pop(0), on_range)
        while pending:
            total += _finish(pending.pop(0), on_range)
    return total, carries, back


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
    seed: frozenset[str] | None = None,
) -> tuple[list[Future[int]], CarryOut, bool]:
    """Classify the days from ``first`` to ``last`` from what :func:`_read_range` read;
    their writes, handed to ``pool``, what the run hands the day after, and whether the day
    before the day before may decide its start (:func:`~pullstats.classify.carry.reaches_back`).

    ``seed``: the ids of ``first``'s requests that the day before's actions take in, as the
    run classifying that day found them: the run then starts from exactly that
    (:func:`~pullstats.classify.carry.handed_over`) instead of reading it again from the day
    before's requests, which reach back one day at most (on Spark it still does)."""
    requests, actions = read
    after = last + timedelta(days=1)
    taken: frozenset[str] | None = frozenset()
    reaches = False
    if requests is not None:
        if seed is not None:
            requests = handed_over(requests, first, seed)
        partitions = gaps_and_starts(requests)  # once: the collision check needs them too
        if hashes_collide(requests, partitions[1]):
            requests = _read_sorted_requests(runtime, first, last, hashed=False, files=files)
            assert requests is not None  # the same files, read again
            if seed is not None:
                requests = handed_over(requests, first, seed)
            partitions = gaps_and_starts(requests)
        reaches = reaches_back(requests, partitions[1], first)
        grouped = _group(requests, *partitions)
        actions = _actions_table(requests, grouped)
        taken = taken_in(requests, grouped.first_request, after)
    elif actions is not None:  # Spark grouped the requests: which it took in is not known
        taken = None
    carry = CarryOut(after, opening_actions(_ACTIONS_SCHEMA.empty_table(), after), taken)
    if actions is not None:
        carry = CarryOut(after, opening_actions(actions, after), taken)
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
        writes.append(pool.submit(write_day, runtime, day, day_actions))
        day += timedelta(days=1)
    return writes, carry, reaches


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
    would be interleaved (:func:`.partitions.hashes_collide` finds that), so ``hashed=False`` orders
    them by the key itself.

    Besides the days themselves, that is what came just before and just after them:

    - after: the first two :data:`~pullstats.action_window.MAX_ACTION_SPAN_US` of the next
      day: the furthest an action that opened on ``last`` can reach, and the whole of those
      that open in the first of them, which the run hands over (:mod:`~pullstats.classify.carry`);
    - before: the last :data:`CONTEXT_US` of the day before, and the rest of that day only
      for the partitions that may carry a chain of requests into that stretch. The rules
      never let a request join across a gap of more than 5 s, so a partition whose first
      request in the stretch comes more than 5 s after its start starts afresh there, and
      what it did earlier cannot change what follows. The few others (a busy client pulling
      at the start of the stretch) get their whole day, as every partition used to.

    The gap to each one's predecessor is computed from this order (:mod:`.partitions`), not
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
        "reach": _instant(day_micros(last + timedelta(days=1)) + 2 * MAX_ACTION_SPAN_US),
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


def actions_of(requests: pa.Table) -> pa.Table:
    """The actions of sorted ``requests``, in file order: by time, namespace, repository,
    ip_hash, then arrival of their first request; each day's actions are one contiguous run.
    The transform ``classify.actions`` (:mod:`pullstats.classify.steps`)."""
    return _actions_from(requests, *gaps_and_starts(requests))


def _actions_from(requests: pa.Table, gaps: np.ndarray, starts: np.ndarray) -> pa.Table:
    """:func:`actions_of`, with the requests' gaps and partition starts already found."""
    return _actions_table(requests, _group(requests, gaps, starts))


def _group(requests: pa.Table, gaps: np.ndarray, starts: np.ndarray) -> ActionColumns:
    columns = (requests[name].combine_chunks() for name in ("method", "tag", "digest"))
    return group_columns(gaps, starts, *columns)


def _actions_table(requests: pa.Table, grouped: ActionColumns) -> pa.Table:
    """The actions ``grouped`` found in ``requests``, in :func:`actions_of`'s order."""
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
