"""Which days classification reads together (:func:`day_ranges`), and the lake's request files
of those days, each day listed once for a run (:class:`RequestFiles`).
:mod:`pullstats.classify.actions` reads and classifies the runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from pullstats import lake_files
from pullstats.config import Configured

#: How many days are read and classified together. Two runs are in memory at once (one read
#: while the other is grouped). The month's benchmark log (2 M requests), classification and
#: ``process``'s peak RSS by run length, same machine and session: 14 days 2.15–2.47 s and
#: 1,707–1,796 MiB; 7 days 1.81–2.08 s and 927–1,149 MiB; 3 days 1.81–2.14 s and 696–730 MiB
#: (docs/benchmarks.md). A week keeps the runs (each a job on Spark) few.
CHUNK_DAYS = 7
#: The most request Parquet a run reads, unless it is one day: a run's requests take about ten
#: times their Parquet size in memory once read (the month's 14 days: 28 MB of files, 284 MB
#: read), and two runs are held at once, so a busy registry's week is read in shorter runs.
RUN_BYTES = 48 * 1024 * 1024


def day_ranges(
    days: Iterable[date],
    span: int = CHUNK_DAYS,
    sizes: Mapping[date, int] | None = None,
    max_bytes: int = RUN_BYTES,
) -> list[tuple[date, date]]:
    """Runs of consecutive days, each at most ``span`` long and, given each day's bytes of
    requests (``sizes``), at most ``max_bytes`` unless it is a single day."""
    ranges: list[tuple[date, date]] = []
    held = 0  # bytes of the last run
    for day in sorted(set(days)):
        size = sizes.get(day, 0) if sizes is not None else 0
        if (
            ranges
            and day - ranges[-1][1] == timedelta(days=1)
            and (day - ranges[-1][0]).days < span
            and held + size <= max_bytes
        ):
            ranges[-1] = (ranges[-1][0], day)
            held += size
        else:
            ranges.append((day, day))
            held = size
    return ranges


class RequestFiles:
    """The lake's request files of days (``files(first, last)``), each day's folder listed
    once: a run's reads list the day before and after it too, which its neighbours read, and
    :func:`classify_days` lists every day first for its size. Days are only ever added to the
    lake under the job lock, which the caller holds."""

    def __init__(self, runtime: Configured) -> None:
        self._settings = runtime.settings
        self._days: dict[date, list[str]] = {}

    def __call__(self, first: date, last: date) -> list[str]:
        return [file for day in lake_files.days_between(first, last) for file in self._of(day)]

    def _of(self, day: date) -> list[str]:
        files = self._days.get(day)
        if files is None:  # two threads may both list a day: the same files either way
            files = self._days[day] = lake_files.day_files(self._settings, lake_files.REQUESTS, day)
        return files
