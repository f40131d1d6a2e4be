"""nodes: several ingest nodes on one catalog, one set of keys

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 15:40:00

Each node's spool is its own, so a segment's progress is keyed by (node, segment): two nodes'
segment names could be equal. Rows recorded before get the node ``""``, which the node whose
spool holds the segment claims at its next compaction.

``nodes`` holds each node's watermark (the arrival time up to which its spool is processed)
and when it was last seen; a period closes once every live node's watermark is past it. The
single watermark of ``pipeline_state`` becomes the watermark of the node ``""`` (the one node of
a catalog made before), last seen when it was set: it holds no period open once it times out.

``installation_keys`` holds a fingerprint of every key the nodes must share, never a key.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_STATE = sa.table("pipeline_state", sa.column("key", sa.String), sa.column("value", sa.Text))
_NODES = sa.table(
    "nodes",
    sa.column("name", sa.String),
    sa.column("host", sa.String),
    sa.column("data_dir", sa.String),
    sa.column("watermark", sa.DateTime(timezone=True)),
    sa.column("last_seen", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("spool_progress", recreate="always") as batch:
        batch.add_column(sa.Column("node", sa.String(length=64), server_default="", nullable=False))
        batch.drop_constraint("pk_spool_progress", type_="primary")
        batch.create_primary_key("pk_spool_progress", ["node", "segment"])
    op.create_table(
        "nodes",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("data_dir", sa.String(length=1024), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_nodes")),
    )
    op.create_table(
        "installation_keys",
        sa.Column("ring", sa.String(length=32), nullable=False),
        sa.Column("kid", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ring", "kid", name=op.f("pk_installation_keys")),
    )
    bind = op.get_bind()
    text = bind.execute(sa.select(_STATE.c.value).where(_STATE.c.key == "watermark")).scalar()
    if text:
        mark = datetime.fromisoformat(text).astimezone(UTC)
        op.bulk_insert(
            _NODES,
            [{"name": "", "host": "", "data_dir": "", "watermark": mark, "last_seen": mark}],
        )
        bind.execute(sa.delete(_STATE).where(_STATE.c.key == "watermark"))


def downgrade() -> None:
    bind = op.get_bind()
    mark = bind.execute(sa.select(sa.func.max(_NODES.c.watermark))).scalar()
    if mark is not None:
        if isinstance(mark, str):  # SQLite hands back its text
            mark = datetime.fromisoformat(mark)
        if mark.tzinfo is None:
            mark = mark.replace(tzinfo=UTC)
        op.bulk_insert(_STATE, [{"key": "watermark", "value": mark.astimezone(UTC).isoformat()}])
    op.drop_table("installation_keys")
    op.drop_table("nodes")
    # one segment name may now have rows of several nodes: keep the furthest read
    bind.execute(
        sa.text(
            "DELETE FROM spool_progress WHERE EXISTS (SELECT 1 FROM spool_progress AS other "
            'WHERE other.segment = spool_progress.segment AND (other."offset" > '
            'spool_progress."offset" OR (other."offset" = spool_progress."offset" '
            "AND other.node < spool_progress.node)))"
        )
    )
    with op.batch_alter_table("spool_progress", recreate="always") as batch:
        batch.drop_constraint("pk_spool_progress", type_="primary")
        batch.create_primary_key("pk_spool_progress", ["segment"])
        batch.drop_column("node")
