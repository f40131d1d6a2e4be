"""``pullstats db``: the catalog database's schema, made or migrated to this version's."""

from __future__ import annotations

import typer

from pullstats.cli.common import err, fail, out
from pullstats.config import Settings
from pullstats.data_dir import DataDirUnusable
from pullstats.db.engine import make_engine
from pullstats.db.migrate import SchemaOutdated, upgrade

db_app = typer.Typer(help="The catalog database.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the catalog database or migrate it to this version's schema."""
    settings = Settings()
    others = settings.paths.foreign_entries()  # before the installation's own are made
    try:  # a data dir that is a file or read-only; a newer release's catalog: each said how
        settings.paths.ensure()
        engine = make_engine(settings.database_url_value)
        try:
            before, after = upgrade(engine)
        finally:
            engine.dispose()
    except (DataDirUnusable, SchemaOutdated) as error:
        raise fail(str(error)) from None
    if before == after:
        out.print(f"catalog schema is current ({after})")
    else:
        out.print(f"catalog schema upgraded from {before or 'nothing'} to {after}")
    if others:  # a mistyped PULLSTATS_DATA_DIR (a home folder): said, not refused
        shown = ", ".join(others[:5]) + (" …" if len(others) > 5 else "")
        err.print(
            f"note: PULLSTATS_DATA_DIR={settings.paths.root} held {len(others)} entries of "
            f"something else ({shown}) and no installation: the new one is made beside them; "
            "if that is not the folder you meant, set PULLSTATS_DATA_DIR and run this again"
        )
