"""trend rollups stored in their key's order on SQLite (WITHOUT ROWID)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 03:00:00

A period's trends are hundreds of thousands of rows, written at once by ``pullstats process``
and read by a prefix of their key (period, grouping, namespace). SQLite kept each row twice: in
the table under a row id and in the primary key's index. A ``WITHOUT ROWID`` table keeps it
once, in the key's order: a third less time to write a month with its weeks, and a read of one
grouping is one range of the key. The rows are copied as they are. Other databases have no row
ids: nothing changes there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
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


def _rebuild(with_rowid: bool) -> None:
    """Copy ``trend_rollups`` into a table of the same columns and key, with or without row
    ids, and put it in its place."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        "trend_rollups_new",
        sa.Column("period_kind", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        *(sa.Column(name, sa.String(length=length), nullable=False) for name, length in KEYS),
        sa.Column("categories", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTS),
        sa.PrimaryKeyConstraint(
            "period_kind",
            "period_start",
            *(name for name, _ in KEYS),
            "categories",
            name="pk_trend_rollups",
        ),
        sqlite_with_rowid=with_rowid,
    )
    op.execute("INSERT INTO trend_rollups_new SELECT * FROM trend_rollups")
    op.drop_table("trend_rollups")
    op.rename_table("trend_rollups_new", "trend_rollups")


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)
