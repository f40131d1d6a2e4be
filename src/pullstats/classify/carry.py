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
from pullstats.config import Settings
from pullstats.lake_schema import ACTIONS
from pullstats.timestamps import day_micros

#: Rows read at a time from the start of a stored actions file (in time order) until past the
#: stretch: a day's file is one row group, and only its first rows are wanted.
_BATCH_ROWS = 8192
#: ACTIONS' columns as both sides are compared: what was computed and what was read back
_COMPARED = pa.schema([pa.field(field.name, field.type) for field in ACTIONS.schema])


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
    in ``day``'s first ``MAX_ACTION_SPAN_US``, with ACTIONS' columns, sorted by all of them."""
    start = day_micros(day)
    ts = _micros(actions["timestamp"])
    classified = np.asarray(
        pc.fill_null(pc.greater(actions["ruleset_version"], 0), False).to_numpy(
            zero_copy_only=False
        ),
        np.bool_,
    )
    keep = (ts >= start) & (ts <= start + MAX_ACTION_SPAN_US) & classified
    table = actions.filter(pa.array(keep)).select(ACTIONS.columns).cast(_COMPARED)
    return table.sort_by([(name, "ascending") for name in ACTIONS.columns])


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
    whose first request there comes within ``MAX_ACTION_SPAN_US`` of its midnight, and so may
    be taken in by an action of the day before that, which the run does not see. ``starts``:
    where each partition of ``requests`` starts."""
    before = day_micros(first - timedelta(days=1))
    return bool(np.any(_micros(requests["ts"])[starts] <= before + MAX_ACTION_SPAN_US))


def handed_over(requests: pa.Table, day: date, taken: frozenset[str]) -> pa.Table:
    """The requests of a run starting on ``day`` as the day before hands them over: without
    the requests before its midnight, nor those of ``day`` that the day before's actions take
    in (``taken``), so that each partition opens afresh at its first request left. The order
    is kept."""
    keep = pc.greater_equal(_micros(requests["ts"]), day_micros(day))
    if taken:
        keep = pc.and_(keep, pc.invert(pc.is_in(requests["id"], pa.array(sorted(taken)))))
    return requests.filter(keep)


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
        return opening_actions(ACTIONS.schema.empty_table(), day)
    end = day_micros(day) + MAX_ACTION_SPAN_US
    batches = []
    with lake.open(key) as stream:
        for batch in pq.ParquetFile(stream).iter_batches(batch_size=_BATCH_ROWS):
            batches.append(batch)
            if batch.num_rows and int(_micros(batch["timestamp"]).max()) > end:
                break
    stored = pa.Table.from_batches(batches) if batches else ACTIONS.schema.empty_table()
    return opening_actions(stored, day)
