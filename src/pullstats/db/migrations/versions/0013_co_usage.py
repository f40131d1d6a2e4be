"""co-usage: pairs of repositories with users in common, and the repositories made public

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 22:05:00

``co_usage_rollups`` feeds the ``co-usage`` dataset (Docker's Technographic report): per period,
a repository, another one at least ten of its users also pulled, the users of both and the
repository's users (rollups/co_usage.py). ``published_repositories`` lists the repositories the
operator has made public (``pullstats repos publish``): only those, and a namespace's own, are
ever named in a namespace's co-usage. Periods rolled up before this revision have no co-usage
until they are rolled up again (``pullstats process --from D --to D --rebuild``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

KEYS = ("namespace", "repository", "paired_namespace", "paired_repository")


def upgrade() -> None:
    op.create_table(
        "co_usage_rollups",
        sa.Column("period_kind", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        *(sa.Column(name, sa.String(length=255), nullable=False) for name in KEYS),
        sa.Column("users", sa.BigInteger(), nullable=False),
        sa.Column("total_users", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("period_kind", "period_start", *KEYS),
    )
    op.create_table(
        "published_repositories",
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "repository"),
    )


def downgrade() -> None:
    op.drop_table("published_repositories")
    op.drop_table("co_usage_rollups")
