"""breakdown rollups: per-period action counts by cloud provider, network type and client tool

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 19:00:00

Feeds the dashboard's breakdowns. Periods rolled up before this revision have no rows here
until they are rolled up again: by the next ``pullstats process`` that touches them, or at once
with ``pullstats process --from D --to D --rebuild``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "breakdown_rollups",
        sa.Column("period_kind", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("pull_by_tag", sa.BigInteger(), nullable=False),
        sa.Column("pull_by_digest", sa.BigInteger(), nullable=False),
        sa.Column("version_check", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "period_kind",
            "period_start",
            "level",
            "namespace",
            "repository",
            "dimension",
            "value",
            "version",
            name=op.f("pk_breakdown_rollups"),
        ),
    )


def downgrade() -> None:
    op.drop_table("breakdown_rollups")
