"""ingest tokens bump the accounts epoch too, so a revoked one is refused at once

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 06:15:00

The ingest endpoint trusted a verified token for 30 seconds. It now trusts it while
``pipeline_state['accounts_epoch']`` is unchanged, as the API does for bearer tokens, and these
triggers bump the epoch on any change to an ingest token (creating, revoking, deleting one).
The trigger function of 0004 is reused on PostgreSQL.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TABLE = "ingest_tokens"
_COLUMNS = "id, secret_sha256, revoked_at"
# the same statement 0004's triggers run (a migration stays as it was written, so it is spelt out)
_BUMP = (
    "INSERT INTO pipeline_state (key, value) VALUES ('accounts_epoch', '0') "
    "ON CONFLICT (key) DO NOTHING; "
    "UPDATE pipeline_state SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) "
    "WHERE key = 'accounts_epoch';"
)
_EVENTS = {"insert": "INSERT", "delete": "DELETE", "update": f"UPDATE OF {_COLUMNS}"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER accounts_epoch_{_TABLE} "
            f"AFTER INSERT OR DELETE OR UPDATE OF {_COLUMNS} ON {_TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION pullstats_bump_accounts_epoch()"
        )
        return
    for name, event in _EVENTS.items():
        op.execute(
            f"CREATE TRIGGER accounts_epoch_{_TABLE}_{name} AFTER {event} ON {_TABLE} "
            f"BEGIN {_BUMP} END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER accounts_epoch_{_TABLE} ON {_TABLE}")
        return
    for name in _EVENTS:
        op.execute(f"DROP TRIGGER accounts_epoch_{_TABLE}_{name}")
