"""Notified requests the registry refused: kept out of the lake's requests, never lost.

A registry notification does not say how the request was answered, and Distribution notifies a
manifest ``pull`` before its handler decides: a request it then refuses (a 404 for an OCI
manifest asked for without an OCI ``Accept``) is notified like a served one. Its own log says
how each request ended, under the request id the notification carries too
(:mod:`pullstats.ingest.registry_log`). So:

- compaction keeps, beside each day's requests, which registry request each notified request
  was (``registry-ids/day=D/``, :func:`write_registry_ids`);
- ``pullstats ingest registry-log`` hands the refused responses of the log here:
  :func:`find_refused` finds the lake's requests they were (the same request id, and the
  repository the response's URI names: a request id alone may be another registry's, or
  another repository's), and :func:`set_aside_refused` moves
  them from their request parts to ``set-aside/refused/requests/`` with the status the log
  gave, after the caller has recorded their days as pending for ``process``.

Each step can be run again: a request already set aside is no longer in a part, and a part is
replaced whole (its rows but those), under the job lock the caller holds.

The parts are read one at a time with pyarrow, each through
:func:`~pullstats.lake.damaged_files.read_file`: a damaged one (a ``registry-ids`` or requests
part) is set aside as ``process`` would, and the import goes on without it: the refused
requests a damaged part held go with it, and are not among those set aside here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pullstats.action_window import days_to_reclassify
from pullstats.config import Settings
from pullstats.drop_reasons import DropReason
from pullstats.ingest.time_window import TimeWindow
from pullstats.lake.damaged_files import read_file
from pullstats.lake.set_aside import set_aside_table
from pullstats.lake_files import REGISTRY_IDS, REQUESTS, day_folder, publish_table
from pullstats.lake_schema import REGISTRY_IDS as REGISTRY_IDS_TABLE
from pullstats.names import DEFAULT_NAMESPACE
from pullstats.runtime import Runtime
from pullstats.timestamps import DAY_US, from_micros

REFUSED = DropReason.REFUSED


def write_registry_ids(settings: Settings, records: pa.Table, window: TimeWindow) -> int:
    """Keep the registry request id of each of ``records`` (spool rows: ``id``, ``ts``,
    ``rid``) that has one and a time in ``window``, one new part per day; the rows kept."""
    ts = records["ts"]
    usable = pc.and_kleene(
        pc.and_kleene(pc.not_equal(records["rid"], ""), pc.is_valid(records["id"])),
        pc.and_kleene(
            pc.greater_equal(ts, window.earliest_us), pc.less_equal(ts, window.latest_us)
        ),
    )
    known = records.filter(usable)  # a NULL condition (a damaged record) drops the row
    if known.num_rows == 0:
        return 0
    days = pc.divide(known["ts"], DAY_US)  # integer division: the ts are never negative
    batch = uuid.uuid4().hex
    for day_number in pc.unique(days).to_pylist():
        rows = known.filter(pc.equal(days, day_number))
        table = pa.table(
            [rows["id"], rows["rid"]], schema=REGISTRY_IDS_TABLE.schema
        )  # the same names as the lake's (rid → request_id)
        day = from_micros(day_number * DAY_US).date()
        key = f"{day_folder(REGISTRY_IDS, day)}/part-{batch}-0.parquet"
        publish_table(settings, table, key, "registry-ids")
    return int(known.num_rows)


@dataclass
class PartMatch:
    """The refused requests of one request part."""

    key: str
    ids: list[str]  # the lake ids of its refused requests
    earliest_us: int  # the time of the earliest of them


@dataclass
class Refused:
    """The lake's requests that a registry log shows refused, part by part (their ids only:
    a part is read whole again when it is rewritten, one at a time)."""

    parts: list[PartMatch] = field(default_factory=list)
    #: request id in the lake → (the registry's request id, the status it answered with)
    answers: dict[str, tuple[str, int]] = field(default_factory=dict)

    def days(self) -> set[date]:
        """The days the refused requests are on."""
        return {_part_day(part.key) for part in self.parts}

    def reclassify(self) -> set[date]:
        """The days whose actions change once these requests are gone."""
        earliest: dict[date, int] = {}
        for part in self.parts:
            day = _part_day(part.key)
            earliest[day] = min(earliest.get(day, part.earliest_us), part.earliest_us)
        return days_to_reclassify(earliest)


def find_refused(
    runtime: Runtime, refused: Mapping[tuple[str, str | None], tuple[int, int]]
) -> Refused:
    """The lake's requests that were the registry requests ``refused`` ((request id,
    repository as the request's URI named it) → (time of the response, µs since the epoch;
    status)).

    A request is one of them when its registry request id is, and its repository is the one
    named (``app`` is ``library/app``, as in the lake): a log line refuses nothing of another
    repository that happens to share its request id. A repository of None (a response whose
    URI is not known) matches the request id alone.

    A notification's time is when the registry found the manifest, a moment before the
    response: each request is looked for on its response's day and the days either side.
    Only the ``id``, ``ts``, ``namespace`` and ``repository`` columns of the request parts are
    read; a damaged part is set aside and skipped.
    """
    found = Refused()
    if not refused:
        return found
    answers = {
        (request_id, None if name is None else _lake_name(name)): answer
        for (request_id, name), answer in refused.items()
    }
    wanted = pa.array(sorted({request_id for request_id, _ in refused}), pa.string())
    days = {
        from_micros(when).date() + timedelta(days=offset)
        for when, _ in refused.values()
        for offset in (-1, 0, 1)
    }
    for day in sorted(days):
        lake_ids = _registry_ids_of(runtime, day, wanted)
        if not lake_ids:
            continue
        ids = pa.array(list(lake_ids), pa.string())
        for key in _parts(runtime.settings, day):
            requests = _read(runtime, key, ["id", "ts", "namespace", "repository"])
            if requests is None:
                continue
            matched = requests.filter(pc.is_in(requests["id"], value_set=ids))
            if matched.num_rows == 0:
                continue
            part = PartMatch(key, [], 0)
            for lake_id, ts, namespace, repository in zip(
                matched["id"].to_pylist(),
                matched["ts"].cast(pa.int64()).to_pylist(),
                matched["namespace"].to_pylist(),
                matched["repository"].to_pylist(),
                strict=True,
            ):
                registry_id = lake_ids[lake_id]
                answer = answers.get((registry_id, f"{namespace}/{repository}")) or answers.get(
                    (registry_id, None)
                )
                if answer is None:  # the id of a request of another repository
                    continue
                part.earliest_us = ts if not part.ids else min(part.earliest_us, ts)
                part.ids.append(lake_id)
                found.answers[lake_id] = (registry_id, answer[1])
            if part.ids:
                found.parts.append(part)
    return found


def _lake_name(name: str) -> str:
    """A repository as a request names it → ``namespace/repository`` as the lake has it
    (``lake/requests.sql``: a name without '/' is in the ``library`` namespace)."""
    return name if "/" in name else f"{DEFAULT_NAMESPACE}/{name}"


def set_aside_refused(runtime: Runtime, found: Refused) -> int:
    """Move the requests of ``found`` to ``set-aside/refused/requests/`` (with the registry's
    ``request_id`` and ``status``) and replace each part by its other rows; how many moved.
    The caller has recorded ``found.reclassify()`` as pending first: a run stopped between
    the two still recounts the days it changed, and a run again moves what is left.

    A part found damaged now (a page of a column :func:`find_refused` did not read) is set
    aside whole, and its requests are taken out of ``found``: none of them was moved."""
    settings = runtime.settings
    moved = 0
    for part in list(found.parts):
        requests = _read(runtime, part.key)
        if requests is None:
            found.parts.remove(part)
            for lake_id in part.ids:
                del found.answers[lake_id]
            continue
        refused = pc.is_in(requests["id"], value_set=pa.array(part.ids, pa.string()))
        rows = requests.filter(refused)
        answers = [found.answers[lake_id] for lake_id in rows["id"].to_pylist()]
        set_aside_table(
            settings,
            REFUSED,
            "requests",
            sorted(rows["id"].to_pylist()),
            rows.append_column(
                "request_id", pa.array([request_id for request_id, _ in answers], pa.string())
            ).append_column("status", pa.array([status for _, status in answers], pa.int16())),
        )
        kept = requests.filter(pc.invert(refused))
        if kept.num_rows == 0:
            settings.lake.delete([part.key])
        else:
            publish_table(settings, kept, part.key, "refused")
        moved += rows.num_rows
    return moved


def _registry_ids_of(runtime: Runtime, day: date, wanted: pa.Array) -> dict[str, str]:
    """Lake request id → registry request id, for the ``wanted`` registry ids on ``day``."""
    found: dict[str, str] = {}
    for key in runtime.settings.lake.files(day_folder(REGISTRY_IDS, day), ".parquet"):
        table = _read(runtime, key)
        if table is None:
            continue
        table = table.filter(pc.is_in(table["request_id"], value_set=wanted))
        found.update(zip(table["id"].to_pylist(), table["request_id"].to_pylist(), strict=True))
    return found


def _read(runtime: Runtime, key: str, columns: list[str] | None = None) -> pa.Table | None:
    """The lake file ``key`` (its ``columns``); None when it is damaged, and now set aside."""

    def read() -> pa.Table:
        with runtime.settings.lake.open(key) as handle:
            return pq.read_table(handle, columns=columns)

    return read_file(runtime, key, read)


def _parts(settings: Settings, day: date) -> Iterable[str]:
    folder = day_folder(REQUESTS, day)
    return [
        key
        for key in settings.lake.files(folder, ".parquet")
        if key.rsplit("/", 1)[-1].startswith("part-")
    ]


def _part_day(key: str) -> date:
    """``requests/day=2026-01-05/part-….parquet`` → 2026-01-05."""
    folder = key.rsplit("/", 2)[-2]
    return date.fromisoformat(folder.removeprefix("day="))
