"""The server's heartbeat: it tells the catalog this node is alive (``nodes.last_seen``).

While a node is alive, the periods its spool may still hold stay open until its ``process``
has passed them (db/nodes.py). A stopped node stops beating, and after
``PULLSTATS_NODE_TIMEOUT`` holds nothing open. A beat every quarter of the timeout (at most a
minute apart) leaves three to miss (a busy database, a slow disk) before the node counts as gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.concurrency import run_in_threadpool

from pullstats.runtime import Runtime

log = logging.getLogger("pullstats.nodes")

#: The most seconds between two beats.
MAX_INTERVAL = 60.0


class Heartbeat:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.interval = min(runtime.settings.node_timeout.total_seconds() / 4, MAX_INTERVAL)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Beat once now (a name another live node uses fails the start), then on a timer."""
        self.runtime.node_seen()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await run_in_threadpool(self.runtime.node_seen)
            except Exception as error:  # the next beat tries again; the log says why
                log.warning("node heartbeat failed: %s: %s", type(error).__name__, error)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
