"""The overlap guard of ``pullstats ingest logs``: which hours of the lake hold requests from
registry notifications, day by day, so that a log covering them is refused (its pulls would be
counted twice). Reads the lake through :func:`~pullstats.lake.damaged_files.read_files`: a
damaged file is set aside, and the lake read again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb

from pullstats import lake_files
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.lake.damaged_files import read_files
from pullstats.lake.steps import HOLDS_NOTIFICATIONS, NOTIFICATION_HOURS
from pullstats.runtime import Runtime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)


class LogImportError(Exception):
    """The import cannot go ahead (a file cannot be read, or the overlap guard refused)."""


class OverlapRefused(LogImportError):
    def __init__(self, hours: list[int], written: int, source: str = "stdin") -> None:
        shown = ", ".join(_hour_text(hour) for hour in hours[:5])
        more = f" and {len(hours) - 5} more" if len(hours) > 5 else ""
        message = (
            f"the lake already holds registry-notification requests for {len(hours)} hour(s) "
            f"these logs cover ({shown}{more}); importing them would count those pulls twice. "
            "Import logs only for hours without notifications, or pass --allow-overlap."
        )
        if written:
            message += (
                f" {written} requests from earlier lines of {source} were already written; "
                "re-running with the same input adds none of them again."
            )
        super().__init__(message)
        self.hours = hours


class OverlapGuard:
    """Which hours of the lake hold requests from registry notifications, day by day."""

    def __init__(self, runtime: Runtime, db: duckdb.DuckDBPyConnection) -> None:
        self._runtime = runtime
        self._db = db
        self._engine = DuckDBEngine(runtime.settings)
        self._days: dict[date, set[int]] = {}
        self.active = self._lake_has_notifications()

    def _lake_has_notifications(self) -> bool:
        def read(files: list[str]) -> bool:
            if not files:
                return False
            # Parquet min/max statistics let DuckDB skip the row groups of log-only days
            found = self._engine.relation(self._db, HOLDS_NOTIFICATIONS, {"requests": files})
            return bool(found.fetchall())

        settings = self._runtime.settings
        return read_files(self._runtime, lambda: lake_files.all_request_files(settings), read)

    def check(self, hours: set[int], written: int, source: str = "stdin") -> None:
        overlap = sorted(hour for hour in hours if hour in self._notification_hours(hour))
        if overlap:
            raise OverlapRefused(overlap, written, source)

    def _notification_hours(self, hour: int) -> set[int]:
        day = (_EPOCH + timedelta(hours=hour)).date()
        if day not in self._days:

            def read(files: list[str]) -> set[int]:
                if not files:
                    return set()
                rows = self._engine.relation(
                    self._db, NOTIFICATION_HOURS, {"requests": files}
                ).fetchall()
                # the lake's times are UTC without a zone
                return {(row[0] - _EPOCH_NAIVE) // timedelta(hours=1) for row in rows}

            settings = self._runtime.settings
            self._days[day] = read_files(
                self._runtime,
                lambda: lake_files.day_files(settings, lake_files.REQUESTS, day),
                read,
            )
        return self._days[day]


def _hour_text(hour: int) -> str:
    start = _EPOCH + timedelta(hours=hour)
    return start.strftime("%Y-%m-%dT%H:00Z")
