"""``pullstats db``: the catalog database's schema, made or migrated to this version's."""

from __future__ import annotations

import os

import typer
from sqlalchemy import Engine, make_url

from pullstats.cli.common import err, fail, opened, out, progress
from pullstats.config import Settings
from pullstats.data_dir import DataDirUnusable
from pullstats.db.engine import driver_said, make_engine, make_sessions, sqlite_file
from pullstats.db.migrate import SchemaOutdated, current_revision, upgrade
from pullstats.runtime import CatalogCopied, catalog_elsewhere, not_copied

db_app = typer.Typer(help="The catalog database.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    adopt: bool = typer.Option(
        False,
        "--adopt",
        help="Make a new catalog the installation's for the lake and exports store that "
        "another catalog wrote, when that catalog is lost (to move a catalog: db copy). It "
        "says which days to count into it again; users, namespaces and tokens are not in the "
        "lake and are made again by hand.",
    ),
) -> None:
    """Create the catalog database or migrate it to this version's schema."""
    settings = Settings()
    others = settings.paths.foreign_entries()  # before the installation's own are made
    try:  # a data dir that is a file or read-only; a newer release's catalog: each said how
        settings.paths.ensure()
        engine = make_engine(settings.database_url_value)
        try:
            if current_revision(engine) is not None:
                # upgrading the old catalog would say "upgraded" of the one no command uses
                not_copied(settings, make_sessions(engine))
            before, after = upgrade(engine)
        finally:
            engine.dispose()
    except (DataDirUnusable, SchemaOutdated, CatalogCopied) as error:
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
    if adopt:
        _adopt(settings)
    elif before is None and (elsewhere := catalog_elsewhere(settings)) is not None:
        # made beside another catalog's stores: every other command refuses it (not the
        # installation's), and this says so now rather than at the next command
        err.print(f"note: this new catalog is not the installation's: {elsewhere}")


def _adopt(settings: Settings) -> None:
    """Record the lake's and the exports store's ids in the catalog (which records none yet,
    or the same) and their places, and say how to count the lake's requests into it: not
    when it recorded both ids before (a move of the stores, or a run on a healthy catalog)."""
    from pullstats.db.state import get_value
    from pullstats.exports_identity import EXPORTS
    from pullstats.lake_files import IMPORTED, REQUESTS, lake_days
    from pullstats.lake_identity import LAKE
    from pullstats.store_identity import Place

    engine = make_engine(settings.database_url_value)
    try:
        with make_sessions(engine)() as session:
            ids = [get_value(session, kind.key) for kind in (LAKE, EXPORTS)]
    finally:
        engine.dispose()
    with opened(settings, adopt=True) as runtime:
        if None not in ids:
            with runtime.sessions() as session:
                lake, exports = (
                    Place.parse(get_value(session, kind.place_key) or "").shown()
                    for kind in (LAKE, EXPORTS)
                )
            out.print(
                "this catalog is the installation's already (it records the lake's and the "
                "exports store's ids): nothing needs counting again; the lake is at "
                f"{lake}, the exports store at {exports}"
            )
            return
        days = sorted({*lake_days(settings, REQUESTS), *lake_days(settings, IMPORTED)})
    out.print("this catalog is the installation's: the lake and the exports store are its own")
    if days:
        first, last = days[0].isoformat(), days[-1].isoformat()
        out.print(
            f"the lake holds requests of {first} … {last}: count them into this catalog with "
            f"`pullstats process --rebuild --from {first} --to {last}`, then `pullstats export "
            "--rebuild`"
        )


@db_app.command("copy")
def db_copy(
    to: str = typer.Option(
        ...,
        "--to",
        metavar="URL",
        envvar="PULLSTATS_DB_COPY_TO",
        show_envvar=False,
        help="The empty database to copy the catalog into, as PULLSTATS_DATABASE_URL takes it "
        "(postgresql+psycopg://user@host/db or sqlite:///path); from PULLSTATS_DB_COPY_TO when "
        "not given, which keeps a password out of the process list.",
    ),
    again: bool = typer.Option(
        False,
        "--again",
        help="Copy a catalog that was copied before (and is refused by every other command "
        "since), to redo a move whose first copy is dropped or was never used: anything done "
        "on that copy is not in this one.",
    ),
) -> None:
    """Copy the catalog, whole, into another (empty) database: the embedded installation's
    SQLite catalog into PostgreSQL when it scales out. Stop the servers and the scheduled jobs
    first; then set PULLSTATS_DATABASE_URL to the copy on every node. The old catalog is marked
    as copied, and every command but this one refuses it from then on."""
    from pullstats.db.copy import CopyRefused, copy_catalog, shown
    from pullstats.job_lock import JobLockBusy, hold_job_lock
    from pullstats.runtime import NoInstallation, use_catalog
    from pullstats.setting_values import check_database_url

    settings = Settings()
    try:
        check_database_url(to)
    except ValueError as error:
        raise fail(f"--to: {error}") from None
    to = _absolute(to)
    try:
        # the installation's own catalog, even when copied before (copy_catalog says when it
        # may be copied again)
        with opened(settings, create=False, copied=True) as runtime:
            target = make_engine(to)
            try:
                _reachable(target)
                tables = progress()
                with tables, hold_job_lock(runtime.engine, settings.paths.job_lock):
                    task = tables.add_task("copy tables", total=None)
                    copied = copy_catalog(
                        runtime.engine,
                        target,
                        lambda _name, _rows: tables.advance(task),
                        again=again,
                    )
                where = shown(target)
            finally:
                target.dispose()
    except (CopyRefused, JobLockBusy, NoInstallation) as error:
        raise fail(str(error)) from None
    rows = sum(copied.values())
    out.print(
        f"copied the catalog to {where}: {len(copied)} tables, {rows:,} rows ({copied['users']} "
        f"users, {copied['namespaces']} namespaces); {use_catalog(settings, to, 'it')} on every "
        "node, then start them. The old catalog is marked as copied there: every command "
        "refuses it now"
    )


def _absolute(url: str) -> str:
    """``url`` with a relative SQLite file made absolute, as this command found it: the copy's
    mark, the advice and the line printed name it for commands run from any other folder
    (cron's, systemd's), where the relative one would be a new, empty file."""
    try:
        path = sqlite_file(url)
    except ValueError:  # SQLAlchemy's ArgumentError too: the engine made of it says so
        return url
    if path is None or os.path.isabs(path):
        return url
    absolute = make_url(url).set(database=os.path.abspath(path))
    return absolute.render_as_string(hide_password=False)


def _reachable(target: Engine) -> None:
    """Refuse a target database that cannot be connected to, in one line naming ``--to``
    (a failure later in the copy is the catalog's or the target's, said as by any command)."""
    from sqlalchemy.exc import DBAPIError

    try:
        with target.connect():
            pass
    except DBAPIError as error:
        raise fail(f"--to: cannot connect: {driver_said(error)}") from None
