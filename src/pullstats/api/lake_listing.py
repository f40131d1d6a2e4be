"""The lake's listing behind ``/metrics``' lake gauges (``pullstats_set_aside_records``,
``pullstats_damaged_lake_files``), which a scrape must get without ever failing or stalling on it.

A scrape read them by listing ``set-aside/`` in the lake (and reading each file's footer). With
the lake on object storage that is a store's requests, and a store that was down failed the
whole scrape (``500``, a traceback in the log each time), and one that took connections and
never answered held it for twice ``PULLSTATS_S3_TIMEOUT`` (a minute by default, past
Prometheus's 10 s scrape timeout): during the outage an operator most needs to see, every
metric was lost, not just the lake's.

So the listing runs in a thread of its own, at most one at a time; a scrape starts one (unless
one is running, or the last failed less than :data:`RETRY_EVERY` seconds ago) and waits at most
:data:`SCRAPE_WAIT` seconds for it. It reports the newest listing that ended (a listing still
running leaves the scrape the one before), unless the one running has run for more than
:data:`OVERDUE` seconds: then, as after a failure, the lake's gauges are left out and
``pullstats_lake_listing_ok`` is 0. A failure is logged once, at ``WARNING`` in one line (the
store's own line, which names the setting and the endpoint, never a credential), and again
only when its kind changes; the listing's recovery is logged too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from pullstats.config import Settings
from pullstats.lake.set_aside import set_aside_counts
from pullstats.lake_damage import damaged_files
from pullstats.logs import log_to_stderr
from pullstats.s3_store import S3Store, s3_error_message
from pullstats.storage import StorageError

log = logging.getLogger(__name__)

#: Seconds a scrape waits for the listing it started, or found running: what a listing that
#: answers at once needs, and well under a scrape timeout (Prometheus: 10 s by default).
SCRAPE_WAIT = 2.0
#: Seconds after which a listing still running counts as failed (a store that takes
#: connections and never answers holds one for twice ``PULLSTATS_S3_TIMEOUT``).
OVERDUE = 10.0
#: Seconds a failed listing answers the scrapes before one lists again.
RETRY_EVERY = 5.0


@dataclass(frozen=True)
class Listed:
    """What one listing of the lake found: records set aside by reason, and how many files
    were set aside as damaged; both None when it failed."""

    counts: Counter[str] | None
    damaged: int | None
    #: when it ended (the listing's clock)
    at: float
    #: the kind of failure (the exception's name), None when it worked
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


#: what is reported while no listing has ended yet
_NOT_YET = Listed(None, None, 0.0, failure="none yet")


class LakeListing:
    """The lake's set-aside listing as scrapes see it (see the module's docs)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: float = SCRAPE_WAIT,
        overdue: float = OVERDUE,
        retry_every: float = RETRY_EVERY,
    ) -> None:
        self.settings = settings
        log_to_stderr(log)  # in the server's log format, beside /healthz's store checks
        self.clock = clock
        self.wait, self.overdue, self.retry_every = wait, overdue, retry_every
        self._lock = threading.Lock()
        self._last: Listed | None = None  # the newest listing that ended
        #: when the listing running now started, and the event it sets as it ends
        self._running: tuple[float, threading.Event] | None = None
        #: the kind of the failure last logged (None: none, or the listing worked since)
        self._logged: str | None = None

    def current(self) -> Listed:
        """The listing a scrape reports; waits at most :attr:`wait` seconds."""
        with self._lock:
            last = self._last
            retry = last is None or last.ok or self.clock() - last.at >= self.retry_every
            if self._running is None and retry:
                self._start()
            running = self._running
        if running is not None:
            running[1].wait(self.wait)
        with self._lock:
            if self._running is not None and self.clock() - self._running[0] >= self.overdue:
                if self._last is not None and not self._last.ok:
                    return self._last  # a failure already: the one running is no news
                return Listed(None, None, self.clock(), failure="overdue")
            return self._last or _NOT_YET

    def _start(self) -> None:
        done = threading.Event()
        self._running = (self.clock(), done)
        # a daemon thread: a listing held by a store that never answers must not hold the
        # process's exit either
        threading.Thread(target=self._list, args=(done,), name="lake-listing", daemon=True).start()

    def _list(self, done: threading.Event) -> None:
        counts: Counter[str] | None = None
        damaged: int | None = None
        failure: str | None = None
        try:
            counts = set_aside_counts(self.settings)
            damaged = len(damaged_files(self.settings))
        except Exception as error:  # whatever it is, the scrapes go on without the lake's gauges
            counts, failure = None, self._failed(error)
        else:
            if self._logged is not None:
                log.warning("/metrics: the lake's listing works again")
                self._logged = None
        with self._lock:
            self._last = Listed(counts, damaged, self.clock(), failure)
            self._running = None
        done.set()

    def _failed(self, error: Exception) -> str:
        """Log ``error`` unless a failure of its kind is the one last logged; its kind."""
        kind = type(error.__cause__ or error).__name__
        if kind == self._logged:
            return kind
        self._logged = kind
        line = self._line(error)
        if line is None:  # not the store's failure: the server's own, with its traceback
            log.error(
                "/metrics: the lake's listing failed; pullstats_set_aside_records and "
                "pullstats_damaged_lake_files are left out of the scrapes until it works",
                exc_info=error,
            )
        else:
            log.warning(
                "/metrics: the lake's listing failed; pullstats_set_aside_records and "
                "pullstats_damaged_lake_files are left out of the scrapes "
                "(pullstats_lake_listing_ok 0) until it works again: %s",
                line,
            )
        return kind

    def _line(self, error: Exception) -> str | None:
        """The store's one line about ``error``; None when it is not the store's failure."""
        if isinstance(error, StorageError | OSError):
            return " ".join(str(error).split()) or type(error).__name__
        lake = self.settings.lake
        if isinstance(lake, S3Store):  # a read of a file's footer, not through the store's calls
            return s3_error_message(lake, error)
        return None
