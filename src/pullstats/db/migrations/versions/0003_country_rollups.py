"""country rollups: per-country counts behind breakdown=country

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 01:02:16.186651
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "country_rollups",
        sa.Column("period_kind", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("pull_by_tag", sa.BigInteger(), nullable=False),
        sa.Column("pull_by_digest", sa.BigInteger(), nullable=False),
        sa.Column("version_check", sa.BigInteger(), nullable=False),
        sa.Column("unique_ip_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "period_kind",
            "period_start",
            "level",
            "namespace",
            "repository",
            "country",
            name=op.f("pk_country_rollups"),
        ),
    )


def downgrade() -> None:
    op.drop_table("country_rollups")
