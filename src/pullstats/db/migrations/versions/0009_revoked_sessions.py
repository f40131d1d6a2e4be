"""revoked sessions: signing out ends that one login JWT on every server, for good

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 06:20:00

Signing out of the dashboard only deleted the session cookie, so a copy of it went on working
until it expired. Sign-out now records the token's ``jti`` here, with the token's expiry, and
the token check refuses a recorded ``jti``. Rows past their expiry are deleted by the next
sign-out (the token would be refused as expired anyway), so the table holds at most the
sessions ended within one ``PULLSTATS_JWT_TTL``.

Servers cache a token's viewer while the accounts epoch holds (0004), so an insert here bumps
the epoch, by a trigger as there, whoever inserts: every server process re-checks the token
on its very next request. Deletes do not bump it: a deleted row is one that expired, and a
refusal is never cached. The trigger function of 0004 is reused on PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TABLE = "revoked_sessions"
_TRIGGER = f"accounts_epoch_{_TABLE}_insert"
# the same statement 0004's triggers run (a migration stays as it was written, so it is spelt out)
_BUMP = (
    "INSERT INTO pipeline_state (key, value) VALUES ('accounts_epoch', '0') "
    "ON CONFLICT (key) DO NOTHING; "
    "UPDATE pipeline_state SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) "
    "WHERE key = 'accounts_epoch';"
)


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_sessions")),
    )
    op.create_index(op.f("ix_revoked_sessions_expires_at"), _TABLE, ["expires_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {_TRIGGER} AFTER INSERT ON {_TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION pullstats_bump_accounts_epoch()"
        )
        return
    op.execute(f"CREATE TRIGGER {_TRIGGER} AFTER INSERT ON {_TABLE} BEGIN {_BUMP} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {_TRIGGER} ON {_TABLE}")
    else:
        op.execute(f"DROP TRIGGER {_TRIGGER}")
    op.drop_index(op.f("ix_revoked_sessions_expires_at"), table_name=_TABLE)
    op.drop_table(_TABLE)
