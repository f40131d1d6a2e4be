"""Named pipeline values in the catalog: the processing watermark and the data generation."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pullstats.db.models import PipelineState

WATERMARK = "watermark"
GENERATION = "generation"


def get_value(session: Session, key: str) -> str | None:
    return session.scalar(select(PipelineState.value).where(PipelineState.key == key))


def set_value(session: Session, key: str, value: str) -> None:
    row = session.get(PipelineState, key)
    if row is None:
        session.add(PipelineState(key=key, value=value))
    else:
        row.value = value


def generation(session: Session) -> int:
    return int(get_value(session, GENERATION) or 0)


def next_generation(session: Session) -> int:
    """Advance the data generation; call inside the transaction that publishes new rollups."""
    value = generation(session) + 1
    set_value(session, GENERATION, str(value))
    return value


def watermark(session: Session) -> datetime | None:
    """Arrival time up to which everything received has been processed."""
    text = get_value(session, WATERMARK)
    return datetime.fromisoformat(text) if text else None


def set_watermark(session: Session, instant: datetime) -> None:
    set_value(session, WATERMARK, instant.astimezone(UTC).isoformat())
