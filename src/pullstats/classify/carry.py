"""What a run of classified days hands to the day after it, and when that day must be
classified again because of it (:func:`pullstats.classify.actions.classify_days`).

An action belongs to the day it opens on, but the rules read across midnight: the last action
of a run may take in the next day's first requests (at most two, all within its first
:data:`~pullstats.action_window.MAX_ACTION_SPAN_US`), and which of them it takes decides how
that day's requests group from there on. For a client that never pauses longer than the join
window (a loop pulling a new digest every 4 s), that reaches the end of the day and past its
midnight, day after day. So after a run, what it hands over (:class:`CarryOut`: the actions
that open in the next day's first ``MAX_ACTION_SPAN_US``, as the run now decides them) is held
against that day's stored actions (:func:`changed`). When they differ the day is classified
again, starting from exactly what the run handed it (:func:`handed_over`), and so on, until a
day's carry-out matches what the day after holds. In the common case (a late request whose
effect ends before midnight) that is one small read of the next day's file, and no day more.

The actions opening in a day's first ``MAX_ACTION_SPAN_US`` say what it was handed: the requests
an action of the day before takes in all come in that stretch, a request that no such action
takes in opens an action there, and from the first request that opens one on, the grouping
depends on the requests alone. Pure, but for :func:`changed`'s read of the stored file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pullstats import lake_files
from pullstats.action_window import MAX_ACTION_SPAN_US
from pullstats.classify.grouping import group_columns
from pullstats.config import Settings
from pullstats.lake_schema import ACTIONS
from pullstats.timestamps import day_micros

#: Rows read at a time from the start of a stored actions file (in time order) until past the
#: stretch: a day's file is one row group, and only its first rows are wanted.
_BATCH_ROWS = 8192
#: The columns of ACTIONS that the grouping decides, as both sides are compared (what was
#: computed and what was read back). Not what enrichment says of an address or an agent (the
#: bundled tables and the parser change with releases), nor the ruleset's version: a day
#: stored by an older release would differ from every day after it, and a rebuild of a week
#: follow them all to the present
_GROUPED = (
    "timestamp",
    "namespace",
    "repository",
    "reference",
    "digest",
    "tag",
    "http_method",
    "action",
    "user_agent",
    "ip_hash",
    "user_hash",
)
_COMPARED = pa.schema([ACTIONS.schema.field(name) for name in _GROUPED])
#: what :func:`opening_actions` reads of a stored file: the compared columns and the one that
#: tells classified actions from imported ones
_READ = pa.schema([*_COMPARED, ACTIONS.schema.field("ruleset_version")])


@dataclass(frozen=True)
class CarryOut:
    """What a run hands to ``day``, the day after its last."""

    day: date
    #: the classified actions opening in ``day``'s first ``MAX_ACTION_SPAN_US``, in
    #: :func:`opening_actions`' order
    opening: pa.Table
    #: the ids of ``day``'s requests that the run's actions take in; None when the run's
    #: requests were not seen (Spark groups them itself)
    taken_in: frozenset[str] | None


def _micros(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    values = pc.cast(pc.cast(column, pa.timestamp("us")), pa.int64())
    return np.asarray(values.to_numpy(zero_copy_only=False), np.int64)


def opening_actions(actions: pa.Table, day: date) -> pa.Table:
    """The classified actions (``ruleset_version`` > 0: not imported from Docker Hub) that open
    in ``day``'s first ``MAX_ACTION_SPAN_US``, with the columns the grouping decides, sorted by
    all of them."""
    start = day_micros(day)
    ts = _micros(actions["timestamp"])
    classified = np.asarray(
        pc.fill_null(pc.greater(actions["ruleset_version"], 0), False).to_numpy(
            zero_copy_only=False
        ),
        np.bool_,
    )
    keep = (ts >= start) & (ts <= start + MAX_ACTION_SPAN_US) & classified
    table = actions.filter(pa.array(keep)).select(list(_GROUPED)).cast(_COMPARED)
    return table.sort_by([(name, "ascending") for name in _GROUPED])


def taken_in(requests: pa.Table, first_request: np.ndarray, day: date) -> frozenset[str]:
    """The ids of ``day``'s requests that actions opened before its midnight take in, for
    sorted ``requests`` whose actions open at ``first_request``."""
    if requests.num_rows == 0:
        return frozenset()
    ts = _micros(requests["ts"])
    opens = np.zeros(requests.num_rows, np.bool_)
    opens[first_request] = True
    opener = np.asarray(first_request)[np.cumsum(opens) - 1]
    midnight = day_micros(day)
    taken = (ts >= midnight) & (ts[opener] < midnight)
    if not taken.any():
        return frozenset()
    return frozenset(requests["id"].filter(pa.array(taken)).to_pylist())


def reaches_back(requests: pa.Table, starts: np.ndarray, first: date) -> bool:
    """Whether the start of a run from ``first`` may depend on more than the day before it,
    which it reads: a partition read whole from that day (a chain of requests reaches the run)
    whose first requests there come within ``MAX_ACTION_SPAN_US`` of its midnight, may be
    taken in by an action of the day before that, which the run does not see, and would group
    the run's own requests otherwise if they were. ``starts``: where each partition of
    ``requests`` (sorted) starts."""
    before = day_micros(first - timedelta(days=1))
    ts = _micros(requests["ts"])
    begin = np.flatnonzero(starts)
    end = np.append(begin[1:], len(ts))
    near = ts[begin] <= before + MAX_ACTION_SPAN_US
    return any(
        _taken_in_matters(requests.slice(b, e - b), ts[b:e], before, day_micros(first))
        for b, e in zip(begin[near], end[near], strict=True)
    )


def _taken_in_matters(rows: pa.Table, ts: np.ndarray, before: int, midnight: int) -> bool:
    """Whether one partition's requests from ``midnight`` on open other actions when its first
    one or two (GETs within ``MAX_ACTION_SPAN_US`` of ``before``, which an action of the day
    before may take in) are taken in than when they open afresh."""
    method = rows["method"].combine_chunks()
    fresh = _openers(rows, ts)
    for taken in (1, 2):
        if taken >= len(ts) or ts[taken - 1] > before + MAX_ACTION_SPAN_US:
            break
        if method[taken - 1].as_py() != "GET":  # only a GET joins an action
            break
        rest = np.zeros(len(ts), np.bool_)
        rest[taken:] = _openers(rows.slice(taken), ts[taken:])
        if not np.array_equal(rest[ts >= midnight], fresh[ts >= midnight]):
            return True
    return False


def _openers(rows: pa.Table, ts: np.ndarray) -> np.ndarray:
    """Which of one partition's sorted requests open an action."""
    gaps = np.diff(ts, prepend=ts[0]) if len(ts) else ts
    starts = np.zeros(len(ts), np.bool_)
    starts[:1] = True
    columns = (rows[name].combine_chunks() for name in ("method", "tag", "digest"))
    opens = np.zeros(len(ts), np.bool_)
    opens[group_columns(gaps, starts, *columns).first_request] = True
    return opens


def handed_over(requests: pa.Table, day: date, taken: frozenset[str]) -> pa.Table:
    """The requests of a run starting on ``day`` as the day before hands them over: without
    the requests before its midnight, nor those of ``day`` that the day before's actions take
    in (``taken``), so that each partition opens afresh at its first request left. The order
    is kept."""
    ts = _micros(requests["ts"])
    keep = ts >= day_micros(day)
    if taken:  # an id is kept once a day: a copy on a later day is another request
        is_taken = pc.is_in(requests["id"], pa.array(sorted(taken))).to_numpy(zero_copy_only=False)
        keep &= ~(np.asarray(is_taken, np.bool_) & (ts < day_micros(day + timedelta(days=1))))
    return requests.filter(pa.array(keep))


def changed(settings: Settings, carry: CarryOut) -> bool:
    """Whether ``carry.day``'s stored actions open otherwise in its first
    ``MAX_ACTION_SPAN_US`` than ``carry`` says (a day without a file has none)."""
    return not stored_opening(settings, carry.day).equals(carry.opening)


def stored_opening(settings: Settings, day: date) -> pa.Table:
    """:func:`opening_actions` of ``day``'s stored actions file (written in time order: read
    from its start until past the stretch)."""
    key = lake_files.action_key(day)
    lake = settings.lake
    if not lake.exists(key):
        return opening_actions(_READ.empty_table(), day)
    end = day_micros(day) + MAX_ACTION_SPAN_US
    batches = []
    with lake.open(key) as stream:
        file = pq.ParquetFile(stream)
        for batch in file.iter_batches(batch_size=_BATCH_ROWS, columns=_READ.names):
            batches.append(batch)
            if batch.num_rows and int(_micros(batch["timestamp"]).max()) > end:
                break
    stored = pa.Table.from_batches(batches) if batches else _READ.empty_table()
    return opening_actions(stored, day)
