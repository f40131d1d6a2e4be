"""users.session_generation: disabling a user ends their sessions for good

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 07:45:00

The bearer check refused a disabled user's JWTs by reading ``disabled``, so re-enabling the
user made every JWT issued before the disable valid again. Disabling a user now bumps this
counter; a JWT carries the value it was issued under (claim ``sgen``, 0 when absent, as in
every token issued before this migration) and is refused once the two differ. A counter, not a
time: ``iat`` has whole seconds, and a time could not tell a token issued just before a disable
from one issued just after a quick re-enable.

A trigger bumps it, not application code, so a disable by any writer (the CLI, an operator's
SQL) counts, as with the accounts epoch of 0004 (which changing ``disabled`` already bumps).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


_FUNCTION = "pullstats_bump_session_generation"
_TRIGGER = "users_session_generation"


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "NEW.session_generation := OLD.session_generation + 1; RETURN NEW; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {_TRIGGER} BEFORE UPDATE OF disabled ON users FOR EACH ROW "
            "WHEN (NEW.disabled AND NOT OLD.disabled) "
            f"EXECUTE FUNCTION {_FUNCTION}()"
        )
        return
    op.execute(
        f"CREATE TRIGGER {_TRIGGER} AFTER UPDATE OF disabled ON users "
        "WHEN NEW.disabled AND NOT OLD.disabled BEGIN "
        "UPDATE users SET session_generation = session_generation + 1 WHERE id = NEW.id; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {_TRIGGER} ON users")
        op.execute(f"DROP FUNCTION {_FUNCTION}()")
    else:
        op.execute(f"DROP TRIGGER {_TRIGGER}")
    # a plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch copy of the table would lose
    # the accounts-epoch triggers of 0004
    op.drop_column("users", "session_generation")
