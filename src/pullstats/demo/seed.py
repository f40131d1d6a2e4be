"""``pullstats demo`` set-up: demo accounts and a year of synthetic history in the spool.

Runs once per data dir (a marker file records it); later runs only process, export and serve.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from pullstats.accounts import service
from pullstats.atomic_files import atomic_path
from pullstats.data_dir import DataDir
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
#: What a first run is generating, written before its first request reaches the spool: a run
#: after an interrupted one generates the same requests (the same ids, which compaction
#: de-duplicates) though its day or ``--requests-per-day`` differ, not a second data set
PLAN = "demo-seeding.json"
#: Written into a demo's data dir before anything else: the folder is the demo's to fill, even
#: when a first run was interrupted before :data:`MARKER`.
OWNER = "demo-data-dir"
SEED = 20261127


class NotADemoDir(ValueError):
    """A ``--data-dir`` that holds something other than a demo: a real installation, maybe."""


def claim_data_dir(root: Path) -> None:
    """Make ``root`` the demo's: a new or empty folder is marked as the demo's (:data:`OWNER`);
    one that holds anything without that mark (or an older demo's :data:`MARKER`) is refused,
    so that a demo user with the published password never lands in a real installation."""
    if root.exists() and not root.is_dir():
        raise NotADemoDir(f"--data-dir {root}: not a folder")
    if root.is_dir() and any(root.iterdir()):
        if not (root / OWNER).is_file() and not (root / MARKER).is_file():
            raise NotADemoDir(
                f"--data-dir {root}: holds files that are not a pullstats demo's (an "
                "installation?); the demo, whose user's password is public, fills a new or "
                "empty folder of its own"
            )
        return
    DataDir(root).make_root()  # the owner's alone, as every data dir pullstats makes
    (root / OWNER).write_text(
        "This folder is a `pullstats demo` data dir: demo accounts with a published password "
        "and synthetic pulls.\n"
    )


@dataclass
class Seeded:
    generated: int = 0
    ingest_token: str | None = None
    #: the ``--requests-per-day`` of an interrupted first run that this one finished, when
    #: it was asked for another
    resumed_per_day: int | None = None


@dataclass(frozen=True)
class Plan:
    """What a first run generates (:data:`PLAN`): ``days`` days from ``start``."""

    start: date
    days: int
    requests_per_day: int


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
        # an interrupted first run left the accounts: keep them; the same seed and PLAN
        # regenerate the same event ids, which compaction de-duplicates
        if session.scalar(select(User.id).where(User.name == DEMO_USER)) is None:
            service.create_user(session, DEMO_USER, DEMO_PASSWORD)
            for namespace in demo_namespaces():
                service.create_namespace(session, namespace)
                service.add_member(session, namespace, DEMO_USER, "owner")
            seeded.ingest_token = service.create_ingest_token(session, "demo-registry").text
    plan = _plan(runtime.paths.root / PLAN, requests_per_day)
    if plan.requests_per_day != requests_per_day:
        seeded.resumed_per_day = plan.requests_per_day
    spool = SpoolWriter(runtime.paths.spool, segment_bytes=runtime.settings.spool_segment_bytes)
    try:
        for table in generate_requests(
            DEMO_CATALOG,
            start=plan.start,
            days=plan.days,
            requests_per_day=plan.requests_per_day,
            seed=SEED,
            received_us=now_micros(),
        ):
            spool.append(to_spool_lines(table))
            seeded.generated += table.num_rows
    finally:
        spool.close()
    with atomic_path(marker) as tmp:
        start = plan.start.isoformat()
        tmp.write_text(json.dumps({"seed": SEED, "start": start, "requests": seeded.generated}))
    (runtime.paths.root / PLAN).unlink(missing_ok=True)
    return seeded


def _plan(path: Path, requests_per_day: int) -> Plan:
    """The requests a first run generates: those an interrupted run began (``path``), or,
    written to ``path`` first, thirteen months up to yesterday at ``requests_per_day``."""
    if path.is_file():
        try:
            kept = json.loads(path.read_text())
            days, per_day = kept["days"], kept["requests_per_day"]
            if isinstance(days, int) and isinstance(per_day, int):
                return Plan(date.fromisoformat(kept["start"]), days, per_day)
        except (ValueError, KeyError, TypeError):
            pass  # not one of ours (edited by hand): planned again
    today = datetime.now(UTC).date()
    # thirteen months: the twelve complete months of the default window plus this one up to
    # yesterday (a request from later today would lie in the future)
    start = period_of(PeriodKind.MONTH, today - timedelta(days=366)).start
    plan = Plan(start, (today - start).days, requests_per_day)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(asdict(plan) | {"start": start.isoformat()}))
    return plan
