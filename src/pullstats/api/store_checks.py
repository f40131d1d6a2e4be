"""``/healthz``'s look at the stores on object storage (``PULLSTATS_LAKE_URL``,
``PULLSTATS_EXPORTS_URL`` of ``s3://…``): a server whose store is down cannot serve downloads,
nor run its jobs, and a load balancer must hear of it.

Each store is asked one ``HEAD`` of its description file (:meth:`~pullstats.storage.Store.probe`,
bounded by :data:`~pullstats.s3_store.PROBE_TIMEOUT`), and the result is reused for
:data:`CHECK_EVERY` seconds: however many probes arrive, a server process sends a store at most
one request that often, and most probes answer without one. A store in a local folder is not
checked here (``/healthz`` writes to the data dir's disk).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pullstats.exports_identity import DESCRIPTION_FILE
from pullstats.lake_meta import META_FILE
from pullstats.s3_store import PROBE_TIMEOUT
from pullstats.setting_values import duration_text
from pullstats.storage import Store

log = logging.getLogger(__name__)

#: Seconds a store's check answers ``/healthz`` before it is sent again.
CHECK_EVERY = 5.0


@dataclass
class StoreChecks:
    """The last check of the stores, reused for ``every`` seconds of ``clock``."""

    clock: Callable[[], float] = time.monotonic
    every: float = CHECK_EVERY
    #: when the stores were last checked, and what each answered ("ok" or "error: …")
    _checked_at: float | None = None
    _results: dict[str, str] = field(default_factory=dict)

    def results(self, lake: Store, exports: Store) -> dict[str, str]:
        """``{"lake": …, "exports": …}`` for those on object storage: ``"ok"``, or ``"error: "``
        and the kind of failure (the full line, naming the settings, goes to the log)."""
        if self._checked_at is not None and self.clock() - self._checked_at < self.every:
            return dict(self._results)
        results = {}
        for name, store, key in (("lake", lake, META_FILE), ("exports", exports, DESCRIPTION_FILE)):
            if store.remote:
                results[name] = self._check(name, store, key)
        self._checked_at, self._results = self.clock(), results
        return dict(results)

    def _check(self, name: str, store: Store, key: str) -> str:
        before = self._results.get(name)
        try:
            store.probe(key)
        except Exception as error:  # whatever it is, the store cannot be used now
            # the kind alone, as for the database: /healthz answers anyone, and the line names
            # the endpoint and the bucket
            text = f"error: {type(error.__cause__ or error).__name__}"
            if before != text:
                log.warning(
                    "/healthz: the %s store failed its check (one request, waiting at most %s): %s",
                    name,
                    duration_text(PROBE_TIMEOUT),
                    " ".join(str(error).split()) or type(error).__name__,
                )
            return text
        if before is not None and before != "ok":
            log.warning("/healthz: the %s store answers again", name)
        return "ok"
