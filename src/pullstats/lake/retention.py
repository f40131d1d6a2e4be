"""Spool retention: compacted segments are deleted once they are old enough.

Segments are the only place raw client IPs are written, so this is what keeps them short-lived
(``PULLSTATS_RETENTION_SPOOL``, never less than ``PULLSTATS_CLOSE_GRACE``).
"""

from __future__ import annotations

import time

from sqlalchemy import delete

from pullstats.db.models import SpoolProgress
from pullstats.lake.spool import CLOSED_SUFFIX
from pullstats.runtime import Runtime


def prune_spool(runtime: Runtime, progress: dict[str, int]) -> int:
    """Delete closed segments that are fully compacted and older than the spool retention.

    Segments are the only place raw client IPs are written, so this is what keeps them short-lived.
    """
    settings = runtime.settings
    keep_for = max(settings.retention_spool, settings.close_grace).total_seconds()
    cutoff = time.time() - keep_for
    pruned = []
    for segment in runtime.paths.spool.glob(f"*{CLOSED_SUFFIX}"):
        stat = segment.stat()
        if stat.st_mtime < cutoff and progress.get(segment.stem, -1) >= stat.st_size:
            segment.unlink()
            pruned.append(segment.stem)
    if pruned:
        with runtime.sessions.begin() as session:
            session.execute(
                delete(SpoolProgress).where(
                    SpoolProgress.node == settings.node, SpoolProgress.segment.in_(pruned)
                )
            )
        for name in pruned:
            progress.pop(name, None)
    return len(pruned)
