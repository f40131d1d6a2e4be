"""trend rollups split by the set of client categories their users pulled with

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 00:30:00

``trend_rollups`` gains ``categories`` (an integer: a bit per client category,
client_categories.category_bit), in its key: a grouping's cell now has a row per set of
categories its users pulled with, so the trends route can leave scanners and bots out and keep
its user counts exact; and every combination of the dimensions is stored (rollups/trends.py).

The rows of the old shape cannot be split, so the table is made again empty. Periods rolled up
before this revision have no trends until they are rolled up again: by the next ``pullstats
process`` that touches them, or at once with ``pullstats process --from D --to D --rebuild``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

KEYS = (
    ("grouped_by", 64),
    ("namespace", 255),
    ("repository", 255),
    ("tag", 255),
    ("country", 2),
    ("cloud", 64),
    ("tool", 255),
    ("category", 16),
    ("use_case", 16),
)
COUNTS = (
    "data_downloads",
    "version_checks",
    "unique_authenticated_users",
    "unique_unauthenticated_users",
)


def _create(with_categories: bool) -> None:
    categories = [sa.Column("categories", sa.Integer(), nullable=False)] if with_categories else []
    op.create_table(
        "trend_rollups",
        sa.Column("period_kind", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        *(sa.Column(name, sa.String(length=length), nullable=False) for name, length in KEYS),
        *categories,
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTS),
        sa.PrimaryKeyConstraint(
            "period_kind",
            "period_start",
            *(name for name, _ in KEYS),
            *(["categories"] if with_categories else []),
        ),
    )


def upgrade() -> None:
    op.drop_table("trend_rollups")
    _create(with_categories=True)


def downgrade() -> None:
    op.drop_table("trend_rollups")
    _create(with_categories=False)
