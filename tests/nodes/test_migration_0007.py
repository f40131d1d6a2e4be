"""Migration 0007 on a catalog with data: the single watermark becomes the node "" and every
segment's progress that node's; a downgrade gives the watermark back."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from pullstats.db.engine import make_engine
from pullstats.db.migrate import alembic_config


def test_upgrade_keeps_the_watermark_and_the_progress_and_downgrade_restores_them(
    catalog_url: str,
) -> None:
    engine = make_engine(catalog_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0006")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO pipeline_state (key, value) VALUES "
                    "('watermark', '2026-12-03T07:25:59.500000+00:00'), ('generation', '4')"
                )
            )
            connection.execute(
                text(
                    'INSERT INTO spool_progress (segment, "offset", closed) VALUES '
                    "('1764746759000000-812-0', 4096, true)"
                )
            )
        command.upgrade(config, "0007")
        with engine.connect() as connection:
            (name, watermark, last_seen) = connection.execute(
                text("SELECT name, watermark, last_seen FROM nodes")
            ).one()
            keys = connection.execute(text("SELECT key FROM pipeline_state")).scalars().all()
            progress = connection.execute(
                text('SELECT node, segment, "offset" FROM spool_progress')
            ).all()
        mark = datetime(2026, 12, 3, 7, 25, 59, 500000, tzinfo=UTC)
        assert name == ""
        for value in (watermark, last_seen):
            value = datetime.fromisoformat(value) if isinstance(value, str) else value
            assert value.replace(tzinfo=value.tzinfo or UTC) == mark
        assert "watermark" not in keys and "generation" in keys
        assert [tuple(row) for row in progress] == [("", "1764746759000000-812-0", 4096)]
        command.downgrade(config, "0006")
        with engine.connect() as connection:
            state = dict(connection.execute(text("SELECT key, value FROM pipeline_state")).all())
            progress = connection.execute(
                text('SELECT segment, "offset" FROM spool_progress')
            ).all()
        assert datetime.fromisoformat(state["watermark"]) == mark
        assert [tuple(row) for row in progress] == [("1764746759000000-812-0", 4096)]
    finally:
        engine.dispose()
