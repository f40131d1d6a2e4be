"""``pullstats demo`` set-up: demo accounts and a year of synthetic history in the spool.

Runs once per data dir (a marker file records it); later runs only process, export and serve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from pullstats.accounts import service
from pullstats.atomic_files import atomic_path
from pullstats.db.models import User
from pullstats.demo.catalog import DEMO_CATALOG
from pullstats.demo.spool_encoding import to_spool_lines
from pullstats.demo.synthetic import generate_requests
from pullstats.lake.spool import SpoolWriter
from pullstats.periods import PeriodKind, period_of
from pullstats.runtime import Runtime
from pullstats.timestamps import now_micros

DEMO_USER = "demo"
DEMO_PASSWORD = "pullstats-demo"
MARKER = "demo.json"
SEED = 20261127


@dataclass
class Seeded:
    generated: int = 0
    ingest_token: str | None = None


def demo_namespaces() -> list[str]:
    return sorted(
        {name.split("/", 1)[0] if "/" in name else "library" for name in DEMO_CATALOG.repositories}
    )


def seed_demo(runtime: Runtime, *, requests_per_day: int) -> Seeded:
    marker = runtime.paths.root / MARKER
    seeded = Seeded()
    if marker.exists():
        return seeded
    with runtime.sessions.begin() as session:
        # an interrupted first run left the accounts: keep them; the same seed regenerates the
        # same event ids, which compaction de-duplicates
        if session.scalar(select(User.id).where(User.name == DEMO_USER)) is None:
            service.create_user(session, DEMO_USER, DEMO_PASSWORD)
            for namespace in demo_namespaces():
                service.create_namespace(session, namespace)
                service.add_member(session, namespace, DEMO_USER, "owner")
            seeded.ingest_token = service.create_ingest_token(session, "demo-registry").text
    today = datetime.now(UTC).date()
    # thirteen months: the twelve complete months of the default window plus this one up to
    # yesterday (a request from later today would lie in the future)
    start = period_of(PeriodKind.MONTH, today - timedelta(days=366)).start
    spool = SpoolWriter(runtime.paths.spool, segment_bytes=runtime.settings.spool_segment_bytes)
    try:
        for table in generate_requests(
            DEMO_CATALOG,
            start=start,
            days=(today - start).days,
            requests_per_day=requests_per_day,
            seed=SEED,
            received_us=now_micros(),
        ):
            spool.append(to_spool_lines(table))
            seeded.generated += table.num_rows
    finally:
        spool.close()
    with atomic_path(marker) as tmp:
        tmp.write_text(
            json.dumps({"seed": SEED, "start": start.isoformat(), "requests": seeded.generated})
        )
    return seeded
