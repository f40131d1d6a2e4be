"""Writing one classified day: its actions with those imported from Docker Hub CSVs
(:func:`imported_actions`), whole, under the day's fixed name. :mod:`pullstats.classify.actions`
classifies the days.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from pullstats import lake_files
from pullstats.classify.steps import IMPORTED_ACTIONS_STEP
from pullstats.config import Configured
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.lake_schema import IMPORTED_ACTIONS


def write_day(runtime: Configured, day: date, day_actions: pa.Table | None) -> int:
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
