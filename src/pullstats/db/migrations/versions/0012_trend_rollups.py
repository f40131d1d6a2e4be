"""trend rollups: per-period pulls and users by repository, tag, country, cloud and client

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 21:40:00

Feeds ``GET …/namespaces/{ns}/trends`` and the ``trends`` dataset (Docker's Trends report):
one row per stored grouping (``grouped_by``, rollups/trends.py) with its exact distinct users.
Periods rolled up before this revision have no rows here until they are rolled up again: by the
next ``pullstats process`` that touches them, or at once with ``pullstats process --from D --to
D --rebuild``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
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


def upgrade() -> None:
    op.create_table(
        "trend_rollups",
        sa.Column("period_kind", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        *(sa.Column(name, sa.String(length=length), nullable=False) for name, length in KEYS),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTS),
        sa.PrimaryKeyConstraint("period_kind", "period_start", *(name for name, _ in KEYS)),
    )


def downgrade() -> None:
    op.drop_table("trend_rollups")
