"""users.session_generation: disabling a user ends their sessions for good

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 07:45:00

The bearer check refused a disabled user's JWTs by reading ``disabled``, so re-enabling the
user made every JWT issued before the disable valid again. ``users disable`` now also bumps
this counter; a JWT carries the value it was issued under (claim ``sgen``, 0 when absent, as
in every token issued before this migration) and is refused once the two differ. A counter,
not a time: ``iat`` has whole seconds, and a time could not tell a token issued just before a
disable from one issued just after a quick re-enable. Changing ``disabled`` already bumps the
accounts epoch (0004), so the triggers stay as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    # a plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch copy of the table would lose
    # the accounts-epoch triggers of 0004
    op.drop_column("users", "session_generation")
