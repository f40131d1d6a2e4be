"""rollup users: unique authenticated and unauthenticated users per period and level

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:10:00

``pull_rollups`` gains the period's distinct users at each level (docs/data-definitions.md):
``unique_authenticated_users`` (distinct user hashes) and ``unique_unauthenticated_users``
(distinct addresses of the actions without a user). Periods rolled up before this revision
show 0 for both until they are rolled up again: by the next ``pullstats process`` that touches
them, or at once with ``pullstats process --from D --to D --rebuild``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = ("unique_authenticated_users", "unique_unauthenticated_users")


def upgrade() -> None:
    with op.batch_alter_table("pull_rollups") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("pull_rollups") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
