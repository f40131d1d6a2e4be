"""exports epoch: a counter the database bumps on every change to the export catalog

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 14:10:00

The export listings (years, months, weeks, one period, a view's files) and the signed downloads
read ``export_periods`` and ``export_files``. A server caches what it read there and trusts it
only while ``pipeline_state['exports_epoch']`` is unchanged, which it reads with the data
generation and the accounts epoch on every request (one indexed read). Triggers, not
application code, bump it, as 0004's do for the accounts epoch: an export written by any
writer (``pullstats export`` in another process, the scheduler, another node, an operator's
SQL) is listed by every server on its very next request.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

EPOCH_KEY = "exports_epoch"
TABLES = ("export_periods", "export_files")

_BUMP = (
    f"INSERT INTO pipeline_state (key, value) VALUES ('{EPOCH_KEY}', '0') "
    "ON CONFLICT (key) DO NOTHING; "
    "UPDATE pipeline_state SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) "
    f"WHERE key = '{EPOCH_KEY}';"
)
_FUNCTION = "pullstats_bump_exports_epoch"
_EVENTS = {"insert": "INSERT", "delete": "DELETE", "update": "UPDATE"}


def upgrade() -> None:
    op.execute(f"INSERT INTO pipeline_state (key, value) VALUES ('{EPOCH_KEY}', '0')")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {_BUMP} RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER exports_epoch_{table} "
                f"AFTER INSERT OR DELETE OR UPDATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
            )
        return
    for table in TABLES:  # SQLite: one trigger per event, each row
        for name, event in _EVENTS.items():
            op.execute(
                f"CREATE TRIGGER exports_epoch_{table}_{name} AFTER {event} ON {table} "
                f"BEGIN {_BUMP} END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER exports_epoch_{table} ON {table}")
        op.execute(f"DROP FUNCTION {_FUNCTION}()")
    else:
        for table in TABLES:
            for name in _EVENTS:
                op.execute(f"DROP TRIGGER exports_epoch_{table}_{name}")
    op.execute(f"DELETE FROM pipeline_state WHERE key = '{EPOCH_KEY}'")
