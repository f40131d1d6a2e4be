"""accounts epoch: a counter the database bumps on every change to who may read what

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 03:10:00

The API caches each bearer token's viewer (user, scopes, namespaces, extra repos) and trusts the
cached one only while ``pipeline_state['accounts_epoch']`` is unchanged. Triggers, not
application code, bump it: a revocation made by any writer (the CLI, another server process, an
operator's SQL) reaches every server on its very next request. Columns that change on ordinary
use (a PAT's ``last_used_at``, a user's ``totp_last_step``) do not bump it, so logins do not
empty the cache.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

EPOCH_KEY = "accounts_epoch"

#: table → the columns whose update changes what a bearer token may read (inserts and deletes
#: of any row count too).
WATCHED: dict[str, tuple[str, ...]] = {
    "users": ("id", "name", "disabled"),
    "personal_access_tokens": ("id", "user_id", "scopes", "expires_at", "revoked_at"),
    "namespaces": ("id", "name"),
    "memberships": ("namespace_id", "user_id", "role"),
    "extra_repos": ("namespace_id", "repository"),
}

_BUMP = (
    f"INSERT INTO pipeline_state (key, value) VALUES ('{EPOCH_KEY}', '0') "
    "ON CONFLICT (key) DO NOTHING; "
    "UPDATE pipeline_state SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) "
    f"WHERE key = '{EPOCH_KEY}';"
)
_FUNCTION = "pullstats_bump_accounts_epoch"


def upgrade() -> None:
    op.execute(f"INSERT INTO pipeline_state (key, value) VALUES ('{EPOCH_KEY}', '0')")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {_BUMP} RETURN NULL; END $$"
        )
        for table, columns in WATCHED.items():
            op.execute(
                f"CREATE TRIGGER accounts_epoch_{table} "
                f"AFTER INSERT OR DELETE OR UPDATE OF {', '.join(columns)} ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
            )
        return
    # SQLite: one trigger per event, each row
    for table, columns in WATCHED.items():
        events = {
            "insert": "INSERT",
            "delete": "DELETE",
            "update": f"UPDATE OF {', '.join(columns)}",
        }
        for name, event in events.items():
            op.execute(
                f"CREATE TRIGGER accounts_epoch_{table}_{name} AFTER {event} ON {table} "
                f"BEGIN {_BUMP} END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER accounts_epoch_{table} ON {table}")
        op.execute(f"DROP FUNCTION {_FUNCTION}()")
    else:
        for table in WATCHED:
            for name in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER accounts_epoch_{table}_{name}")
    op.execute(f"DELETE FROM pipeline_state WHERE key = '{EPOCH_KEY}'")
