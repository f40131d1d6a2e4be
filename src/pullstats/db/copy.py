"""A catalog copied whole into another database: the embedded installation's SQLite file into
PostgreSQL when it scales out (or back), so that moving is a change of
``PULLSTATS_DATABASE_URL``, not a new, empty installation.

Every table of the schema is copied, row for row, in an order that keeps the foreign keys
satisfied: the accounts, the tokens, the rollups, the export catalog, the nodes' spool progress,
the key fingerprints and the stores' ids (``pipeline_state``), so the copy is the installation's
catalog for its lake, exports store and keys at once. The source must be at this release's
schema and the target empty (no schema yet, or this release's with only the rows a new catalog
has: a ``db upgrade`` run against it first, or a copy that failed half-way, which left nothing
behind: the rows go in one transaction). Rows are read and written in batches, so a catalog of
millions of rollup rows needs no more memory than a batch.

Once the copy is in, the source is marked as copied (``pipeline_state``'s
:data:`~pullstats.db.state.COPIED_TO`: the target's URL without its password, and when), and
every command refuses it from then on (runtime.py): a job left without
``PULLSTATS_DATABASE_URL`` would otherwise go on working on the old catalog, over the lake and
exports store that the copy owns now, and write over or delete the copy's export files. The mark
is never copied, so a copy back is a catalog like any other. A marked source is copied again
only with ``again`` (a move to redo: its first target dropped, or never used), and a marked
catalog is never a target: it is refused as one that holds rows, naming the mark.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    Table,
    create_engine,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Session

from pullstats.db.bulk import insert_columns
from pullstats.db.migrate import current_revision, head_revision, upgrade
from pullstats.db.models import Base
from pullstats.db.state import COPIED_TO, engine_copied_to, mark_copied

#: Rows read and written at a time.
BATCH_ROWS = 20_000


class CopyRefused(RuntimeError):
    """The catalog cannot be copied there (its message says why and what to do)."""


def shown(engine: Engine) -> str:
    """The database as a message names it: its URL without the password."""
    return engine.url.render_as_string(hide_password=True)


def copy_catalog(
    source: Engine,
    target: Engine,
    table_done: Callable[[str, int], None] | None = None,
    *,
    again: bool = False,
) -> dict[str, int]:
    """Copy every row of ``source``'s catalog into the empty ``target``, made at this release's
    schema first, then mark ``source`` as copied there; the rows copied, by table.
    ``table_done(name, rows)`` after each table. A source that is marked already (copied once)
    is refused unless ``again``."""
    if source.url == target.url:
        raise CopyRefused(f"{shown(target)} is the catalog itself: copy to another database")
    head = head_revision()
    revision = current_revision(source)
    if revision is None:
        raise CopyRefused("the catalog holds no pullstats catalog yet: there is nothing to copy")
    if revision != head:
        raise CopyRefused(
            f"the catalog is at schema {revision} and this pullstats writes {head}: run "
            "`pullstats db upgrade` on it first, then copy"
        )
    _check_empty(target, head)
    earlier = engine_copied_to(source)
    if earlier is not None and not again:
        raise CopyRefused(
            f"the catalog was copied to {earlier} already, and every command but this one "
            "refuses it since: a second copy would be another catalog of the installation's "
            "lake and exports store, without what was done on that one since. To redo the move "
            "(that copy dropped, or nothing run on it), copy again with --again"
        )
    upgrade(target)
    copied: dict[str, int] = {}
    # parents before the rows that name them; pipeline_state last, as the catalog's triggers
    # count changes to the accounts and exports into it (its epochs): the source's values win
    state = Base.metadata.tables["pipeline_state"]
    order = [table for table in Base.metadata.sorted_tables if table is not state] + [state]
    with source.connect() as reading, Session(target) as writing, writing.begin():
        for table in reversed(order):  # what the migrations wrote
            writing.execute(table.delete())
        for table in order:
            if table is state:
                writing.execute(state.delete())  # what the triggers wrote meanwhile
            rows = reading.execution_options(stream_results=True, yield_per=BATCH_ROWS)
            query = select(table)
            if table is state:  # the source's own mark, from an earlier copy: never the copy's
                query = query.where(state.c.key != COPIED_TO)
            count = 0
            for batch in rows.execute(query).partitions():
                insert_columns(writing, table, _columns(table, batch))
                count += len(batch)
            copied[table.name] = count
            if table_done is not None:
                table_done(table.name, count)
        _continue_ids(writing, target)
    # the copy is in: from now on the source is an old catalog, refused by every command
    with Session(source) as marking, marking.begin():
        mark_copied(marking, shown(target), datetime.now(UTC))
    return copied


def _check_empty(target: Engine, head: str) -> None:
    """Refuse a target that holds a catalog of another release, or rows a new catalog does
    not have (the migrations give one a few: ``pipeline_state``'s epochs)."""
    revision = current_revision(target)
    if revision is None:
        others = [name for name in inspect(target).get_table_names() if name != "alembic_version"]
        if others:
            raise CopyRefused(
                f"{shown(target)} holds tables that are not a pullstats catalog "
                f"({', '.join(sorted(others)[:5])}): copy into a new, empty database"
            )
        return
    mark = engine_copied_to(target)
    if mark is not None:
        raise CopyRefused(
            f"{shown(target)} holds an old catalog, copied to {mark} and refused by every "
            "command since: copy into a new, empty database (or drop that one, or move its "
            "SQLite file aside, first)"
        )
    if revision != head:
        raise CopyRefused(
            f"{shown(target)} already holds a pullstats catalog (schema {revision}): copy into "
            "a new, empty database"
        )
    new = _new_catalog_keys()
    with target.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if not _keys(connection, table) <= new[table.name]:
                raise CopyRefused(
                    f"{shown(target)} already holds a pullstats catalog with rows (in "
                    f"{table.name}): copy into a new, empty database"
                )


def _new_catalog_keys() -> dict[str, set[tuple[Any, ...]]]:
    """The primary keys of the rows that a new catalog has, by table."""
    with tempfile.TemporaryDirectory(prefix="pullstats-catalog-") as folder:
        engine = create_engine(f"sqlite:///{folder}/new.sqlite3")
        try:
            upgrade(engine)
            with engine.connect() as connection:
                return {t.name: _keys(connection, t) for t in Base.metadata.sorted_tables}
        finally:
            engine.dispose()


def _keys(connection: Connection, table: Table) -> set[tuple[Any, ...]]:
    return {tuple(row) for row in connection.execute(select(*table.primary_key.columns))}


def _columns(table: Table, batch: Sequence[Any]) -> dict[str, list[Any]]:
    """A batch of rows as the table's columns, each value as the target stores it."""
    columns: dict[str, list[Any]] = {}
    for index, column in enumerate(table.columns):
        values = [row[index] for row in batch]
        if isinstance(column.type, DateTime):
            values = [_utc(value) for value in values]
        columns[column.name] = values
    return columns


def _utc(value: datetime | None) -> datetime | None:
    """A moment in UTC: SQLite gives back the UTC it was given without its zone, PostgreSQL
    gives it in the session's zone; either goes into the other as the same moment."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _continue_ids(session: Session, target: Engine) -> None:
    """Make PostgreSQL's sequences hand out ids after the copied ones (SQLite does so from the
    rows themselves)."""
    if target.dialect.name != "postgresql":
        return
    for table in Base.metadata.sorted_tables:
        key: Sequence[Column[Any]] = list(table.primary_key.columns)
        if len(key) != 1 or not isinstance(key[0].type, Integer) or key[0].autoincrement is False:
            continue
        column = key[0]
        highest = session.scalar(select(func.max(column)))
        session.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, :column), :next, false)"),
            {"table": table.name, "column": column.name, "next": (highest or 0) + 1},
        )
