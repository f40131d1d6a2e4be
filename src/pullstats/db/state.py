"""Named pipeline values in the catalog: the data generation, the accounts epoch (bumped by
database triggers, migration 0004), the pending days, and the mark of a catalog copied
elsewhere (:data:`COPIED_TO`). Each node's watermark is in :mod:`pullstats.db.nodes`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session

from pullstats.db.models import PipelineState, SpoolProgress

GENERATION = "generation"
PENDING_DAYS = "pending_days"
ACCOUNTS_EPOCH = "accounts_epoch"
EXPORTS_EPOCH = "exports_epoch"


@dataclass(frozen=True, slots=True)
class CatalogVersions:
    """What an API answer may be cached against: rollups (``generation``), accounts, and the
    export catalog (``exports_epoch``, bumped by triggers: migration 0010)."""

    generation: int
    accounts_epoch: int
    exports_epoch: int = 0


#: Plain SQL, run on a raw driver connection: the API reads it on every request, and SQLAlchemy's
#: statement handling would cost more than the read itself.
VERSIONS_SQL = (
    "SELECT key, value FROM pipeline_state "
    f"WHERE key IN ('{GENERATION}', '{ACCOUNTS_EPOCH}', '{EXPORTS_EPOCH}')"
)


def catalog_versions(connection: DBAPIConnection) -> CatalogVersions:
    """Both counters in one indexed read of a driver (DB-API) connection."""
    cursor = connection.cursor()
    try:
        cursor.execute(VERSIONS_SQL)
        return versions_of(cursor.fetchall())
    finally:
        cursor.close()


def versions_of(rows: Iterable[Sequence[Any]]) -> CatalogVersions:
    """The counters from the ``(key, value)`` rows of :data:`VERSIONS_SQL`."""
    values = {str(key): int(value) for key, value in rows}
    return CatalogVersions(
        values.get(GENERATION, 0), values.get(ACCOUNTS_EPOCH, 0), values.get(EXPORTS_EPOCH, 0)
    )


def get_value(session: Session, key: str) -> str | None:
    return session.scalar(select(PipelineState.value).where(PipelineState.key == key))


def set_value(session: Session, key: str, value: str) -> None:
    """Write ``key``'s value, over the one there if any: for values only jobs write, under the
    job lock (an id recorded once is :func:`add_value`'s)."""
    row = session.get(PipelineState, key)
    if row is None:
        session.add(PipelineState(key=key, value=value))
    else:
        row.value = value


def delete_values(session: Session, *keys: str) -> None:
    """Remove ``keys`` and their values (those there are)."""
    session.execute(delete(PipelineState).where(PipelineState.key.in_(keys)))


def add_value(session: Session, key: str, value: str) -> bool:
    """Record ``key``'s value unless the catalog holds one (never over it); whether this did.

    One ``INSERT … ON CONFLICT DO NOTHING``: of sessions racing to record a value (nodes
    starting together), one records it and the others leave it; on PostgreSQL a session waits
    for one not yet committed. Read the value after the commit: it is the winner's.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(PipelineState)
        .values(key=key, value=value)
        .on_conflict_do_nothing(index_elements=[PipelineState.key])
        .returning(PipelineState.key)
    )
    return session.execute(statement).first() is not None


def bump_accounts_epoch(session: Session) -> None:
    """Advance the accounts epoch by hand, for a change the triggers of migration 0004 do not
    watch (a password change's new session generation), in the caller's transaction; one
    UPDATE, as the triggers do it, so concurrent bumps never lose one."""
    session.execute(
        text(
            "UPDATE pipeline_state SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) "
            "WHERE key = :key"
        ),
        {"key": ACCOUNTS_EPOCH},
    )


def generation(session: Session) -> int:
    return int(get_value(session, GENERATION) or 0)


def next_generation(session: Session) -> int:
    """Advance the data generation; call inside the transaction that publishes new rollups."""
    value = generation(session) + 1
    set_value(session, GENERATION, str(value))
    return value


def pending_days(session: Session) -> set[date]:
    """Days compacted into the lake but not yet classified and rolled up.

    Recorded in the same transaction that advances the spool offsets, so a run that dies after
    compaction leaves the next run knowing which days still need the later stages.
    """
    text = get_value(session, PENDING_DAYS)
    return {date.fromisoformat(day) for day in json.loads(text)} if text else set()


def add_pending_days(session: Session, days: Iterable[date]) -> None:
    merged = pending_days(session) | set(days)
    set_value(session, PENDING_DAYS, json.dumps(sorted(day.isoformat() for day in merged)))


def clear_pending_days(session: Session, days: Iterable[date]) -> None:
    remaining = pending_days(session) - set(days)
    set_value(session, PENDING_DAYS, json.dumps(sorted(day.isoformat() for day in remaining)))


def spool_offsets(session: Session, node: str | None) -> dict[str, int]:
    """How far compaction has read each of ``node``'s spool segments (bytes), with the rows
    recorded before nodes had names (``""``, migration 0007), which its next run claims.
    ``None``: a data dir that has no node name yet, whose segments have no row but those."""
    nodes = ["", node] if node else [""]
    rows = session.execute(
        select(SpoolProgress.segment, SpoolProgress.offset).where(SpoolProgress.node.in_(nodes))
    )
    return {segment: offset for segment, offset in rows}


#: The mark of a catalog that ``pullstats db copy`` copied elsewhere: where to and when, as
#: JSON. Written into the source after the copy, never copied (db/copy.py): every command but
#: ``db copy --again`` refuses a catalog that has it (runtime.py).
COPIED_TO = "copied_to"


@dataclass(frozen=True, slots=True)
class CopiedTo:
    """Where a catalog was copied to (its URL, the password masked), and when."""

    url: str
    at: datetime

    def __str__(self) -> str:
        return f"{self.url} by `pullstats db copy` on {self.at:%Y-%m-%d %H:%M} UTC"


def mark_copied(session: Session, url: str, at: datetime) -> None:
    """Record in the caller's transaction that the catalog was copied to ``url`` (a URL as
    messages show it: no password) at ``at``; a later copy's mark replaces it."""
    set_value(session, COPIED_TO, json.dumps({"url": url, "at": at.astimezone(UTC).isoformat()}))


def copied_to(session: Session) -> CopiedTo | None:
    """The catalog's mark of a copy elsewhere, if it has one."""
    value = get_value(session, COPIED_TO)
    if value is None:
        return None
    mark = json.loads(value)
    return CopiedTo(str(mark["url"]), datetime.fromisoformat(str(mark["at"])).astimezone(UTC))


def engine_copied_to(engine: Engine) -> CopiedTo | None:
    """The mark of a copy elsewhere that ``engine``'s catalog (of any schema) has, if any."""
    with Session(engine) as session:
        return copied_to(session)
