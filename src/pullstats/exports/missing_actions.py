"""Days whose actions file is missing from the lake, though their requests are there: a period
holding one is not exported, and the day is handed back to ``process``.

A period's raw view is read from its days' actions files, its summaries from the rollups,
which were computed from those files when the period was last rolled up. An actions file lost
since (a volume lost, a bad restore, a person's ``mv``) would publish a raw view missing rows
the summaries still count. A day can have requests (or actions imported from Docker Hub) in
the lake and no actions file for three reasons:

- it waits for ``process`` (the catalog's ``pending_days``): requests were added since it was
  last classified (``ingest logs``, an import, a run that failed), or it was handed back
  already. Its period is held back until ``process`` has classified it;
- its file was lost: held back too, and the day handed back to ``process``
  (:func:`pullstats.lake_damage.classify_again`, as for a damaged actions file), which
  classifies it again from its requests and recomputes its periods' rollups;
- it was classified to nothing (``classify/actions.py`` deletes an empty day's file): every
  one of its requests joined an action opened the day before. Its periods are exported.

The last two are told apart without classifying the day again: an action that opened before
midnight has ended by :data:`~pullstats.action_window.MAX_ACTION_SPAN_US` after it (10 s), so
a request of the day at or after that time opens an action of the day, or joins one that
did. A day with such a request, or with imported actions, was classified to something: its
file is lost. Only a day whose requests all come in its first ten seconds may have been
classified to nothing, and is let through. The latest request time is read from the Parquet
footers' statistics of the day's request parts (the ``ts`` column read only when a writer
left no statistics).

Cost, for a lake of any size: per export run, one listing of the actions files and one
delimited listing each of the requests' and the imported actions' day folders (on S3 a
request per 1,000 keys or days), done once and then set arithmetic per period, whatever the
number of namespaces; and the footers of the request parts of the days found without actions
file alone (none on a sound lake but the days classified to nothing). The days of the
retention's frozen periods are not looked at: ``process`` never classifies them again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pullstats import lake_files
from pullstats.action_window import MAX_ACTION_SPAN_US
from pullstats.db.state import pending_days
from pullstats.lake.damaged_files import read_file
from pullstats.lake.retention import frozen_day, pruned_before
from pullstats.lake_damage import classify_again
from pullstats.periods import Period
from pullstats.runtime import Runtime

log = logging.getLogger("pullstats.exports")


@dataclass
class MissingActions:
    """The days without actions file that hold back their periods, for one export run (the
    job lock held: nothing but the run itself changes the lake meanwhile)."""

    runtime: Runtime
    #: day → why its periods are held back (one line, naming the day and what to run)
    held: dict[date, str] = field(default_factory=dict)
    _candidates: set[date] | None = None
    _pending: set[date] = field(default_factory=set)

    def hold(self, day: date, text: str) -> None:
        """Hold back the periods of ``day`` for ``text`` (an actions file set aside meanwhile)."""
        self.held[day] = text

    def holding(self, period: Period) -> str | None:
        """Why ``period`` is not exported (None: it may be)."""
        candidates = self._listed()
        for day in lake_files.days_between(period.start, period.end):
            if day in candidates:
                candidates.discard(day)  # decided once, for every period holding it
                text = self._decide(day)
                if text is not None:
                    self.held[day] = text
            if day in self.held:
                return self.held[day]
        return None

    def _listed(self) -> set[date]:
        """The days with requests or imported actions and no actions file, but those frozen
        by the retention (listed once)."""
        if self._candidates is None:
            settings = self.runtime.settings
            with self.runtime.sessions() as session:
                self._pending = pending_days(session)
                frozen_before = pruned_before(session)
            listed = settings.lake.files(lake_files.ACTIONS, ".parquet")
            classified = {_action_day(key) for key in listed}
            with_rows = set(lake_files.lake_days(settings, lake_files.REQUESTS))
            with_rows |= set(lake_files.lake_days(settings, lake_files.IMPORTED))
            self._candidates = {
                day for day in with_rows - classified if not frozen_day(day, frozen_before)
            }
        return self._candidates

    def _decide(self, day: date) -> str | None:
        """Why ``day``'s periods wait, or None: classified to nothing (or an empty folder)."""
        settings = self.runtime.settings
        requests = lake_files.day_parts(settings, lake_files.REQUESTS, day)
        imported = lake_files.day_parts(settings, lake_files.IMPORTED, day)
        if not (requests or imported):
            return None
        rows = "requests" if requests else "imported actions"
        if day in self._pending:
            return (
                f"{day} waits for `pullstats process` (its {rows} are in the lake, its "
                "actions not yet); the period is exported after it has classified the day"
            )
        if not imported and not _past_any_carried_action(self.runtime, day, requests):
            return None  # its requests may all have joined actions of the day before
        key = lake_files.action_key(day)
        classify_again(self.runtime.sessions, day)
        self._pending.add(day)
        log.warning(
            "warning: lake file %s is missing, though %s has %s in the lake: the day is "
            "classified again by the next `pullstats process`",
            settings.lake.location(key),
            day,
            rows,
        )
        return (
            f"the actions of {day} are missing from the lake ({key}), its {rows} are not; "
            f"the period is exported after `pullstats process` has classified {day} again"
        )


def _action_day(key: str) -> date | None:
    """The day whose actions file ``key`` is (None: no actions file)."""
    parts = key.split("/")
    if len(parts) != 3 or not parts[1].startswith("day="):
        return None
    try:
        day = date.fromisoformat(parts[1].removeprefix("day="))
    except ValueError:
        return None
    return day if key == lake_files.action_key(day) else None


def _past_any_carried_action(runtime: Runtime, day: date, keys: list[str]) -> bool:
    """Whether a request of ``day`` (its parts' ``keys``) comes at or after midnight +
    :data:`MAX_ACTION_SPAN_US`: past the end of any action opened the day before, so it opens
    an action of ``day`` or joins one that did."""
    reach = datetime(day.year, day.month, day.day) + timedelta(microseconds=MAX_ACTION_SPAN_US)
    lake = runtime.settings.lake
    for key in keys:

        def latest(key: str = key) -> datetime | None:
            # read whole, through the store: a store that fails says so in its own line (a
            # read through the handle of open() raised botocore's error as it is); such a day
            # is rare (classified to nothing, or its file lost) and its parts small
            return _latest_ts(pq.ParquetFile(pa.BufferReader(lake.read_bytes(key))))

        last = read_file(runtime, key, latest)  # a damaged part is set aside: not counted
        if last is not None and last >= reach:
            return True
    return False


def _latest_ts(part: pq.ParquetFile) -> datetime | None:
    """The latest ``ts`` of a request part (naive UTC), from its statistics if it has them."""
    metadata = part.metadata
    column = metadata.schema.names.index("ts")
    latest: datetime | None = None
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        stats = group.column(column).statistics
        if group.num_rows == 0:
            continue
        if stats is None or not stats.has_min_max:
            values = part.read(columns=["ts"])["ts"]
            value = pc.max(values).as_py()
            return None if value is None else _naive(value)
        value = _naive(stats.max)
        latest = value if latest is None else max(latest, value)
    return latest


def _naive(value: datetime) -> datetime:
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
