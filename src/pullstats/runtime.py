"""One process's handle on a pullstats installation: settings, data dir and catalog."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from pullstats.accounts.passwords import use_hashing
from pullstats.config import Settings
from pullstats.data_dir import DataDir, DataDirUnusable
from pullstats.db.engine import make_engine, make_sessions, sqlite_file
from pullstats.db.keys import check_keys
from pullstats.db.migrate import current_revision, ensure_schema
from pullstats.db.nodes import seen
from pullstats.db.state import CopiedTo, copied_to, engine_copied_to
from pullstats.exports_identity import (
    EXPORTS,
    ExportsDescription,
    ExportsStoreRefused,
    open_exports_store,
)
from pullstats.job_lock import hold_job_lock
from pullstats.lake_damage import set_aside_file
from pullstats.lake_identity import LAKE
from pullstats.lake_meta import META_FILE, Description, LakeVersionError, migrate_lake
from pullstats.lake_meta import progress as migration_progress
from pullstats.lake_schema import LAKE_SCHEMA_VERSION
from pullstats.logs import log_to_stderr
from pullstats.s3_store import S3Store
from pullstats.storage import LocalStore, StorageError, Store
from pullstats.store_identity import (
    Described,
    NewId,
    Place,
    StoreKind,
    another_catalogs,
    forget_unwritten,
    installation_store,
)
from pullstats.store_settings import check_link_lifetime


class NoInstallation(RuntimeError):
    """A command that only reads found no installation where the settings point, or the data
    dir cannot be one (``data_dir.DataDirUnusable``: a file, a read-only file system)."""


class CatalogCopied(NoInstallation):
    """The catalog the settings name was copied to another database by ``pullstats db copy``
    (db/copy.py): that one is the installation's now, and this one is refused."""


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def paths(self) -> DataDir:
        return self.settings.paths

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        create: bool = True,
        adopt: bool = False,
        copied: bool = False,
        stores: bool = True,
    ) -> Runtime:
        """Open (creating on first use) the data dir and catalog named by ``settings``.

        With ``create=False`` nothing is created: a missing data dir or catalog raises
        :class:`NoInstallation`. A catalog that records no lake or exports store takes stores
        that another catalog gave their ids only with ``adopt`` (store_identity.py). A catalog
        that ``pullstats db copy`` copied elsewhere raises :class:`CatalogCopied`, unless
        ``copied`` (the copy itself, which says when it may copy it again). ``stores=False``
        leaves the lake and the exports store alone, not even checked (``pullstats keys``, which
        needs only the catalog and the keys: a key leak is answered while the store is down).
        """
        settings = settings or Settings()
        use_hashing(settings.password_hashing)
        if not create:
            _check_installed(settings)
        else:
            try:
                settings.paths.ensure()
            except DataDirUnusable as error:
                raise NoInstallation(str(error)) from error
        if stores:  # a store on S3 that cannot be used stops the command here, before any work
            settings.lake.check()
            settings.exports_store.check()
        check_link_lifetime(settings.download_link_lifetime, settings.exports_url)
        catalog = _catalog_named(settings)
        lake_setting = f"PULLSTATS_LAKE_URL={settings.lake_url}" if settings.lake_url else None
        exports_url = (settings.exports_url or "").strip()
        exports_setting = f"PULLSTATS_EXPORTS_URL={exports_url}" if exports_url else None
        lake = settings.lake
        # each store's description, read once for every check below (on S3 a read is a request)
        description = Description(lake)
        exports = ExportsDescription(settings.exports_store)
        if stores and create and not adopt and _sqlite_file(settings) is not None:
            # a SQLite catalog not made yet: refused before the file is, so that the data dir
            # is left as it was
            for kind, store, setting in (
                (LAKE, description, lake_setting),
                (EXPORTS, exports, exports_setting),
            ):
                _not_another_catalogs(kind, store, setting, catalog)
        if not create and _missing_sqlite_file(settings.database_url_value):
            raise _no_catalog_yet(settings)  # and no empty file made where it was mistyped
        engine = make_engine(settings.database_url_value)
        new_ids: list[NewId] = []  # recorded here for new places: forgotten if left unwritten
        try:
            revision = current_revision(engine)
            if not create and revision is None:
                raise _no_catalog_yet(settings)
            sessions = make_sessions(engine)
            if revision is not None and not copied:
                # before the schema's check: an old catalog is not to be upgraded either
                not_copied(settings, sessions)
            ensure_schema(engine)
            known: str | None = None
            version = LAKE_SCHEMA_VERSION
            if stores:
                # the catalog's lake, never another (lake_identity.py), before anything is written
                known = installation_store(
                    LAKE,
                    description,
                    sessions,
                    create=create,
                    setting=lake_setting,
                    adopt=adopt,
                    catalog=catalog,
                    place=place_of(lake, settings.paths.root / "lake"),
                    recorded=lambda value: new_ids.append(
                        NewId(LAKE, lambda: Description(lake), value)
                    ),
                )
                version = description.version(settings.paths.tmp, create=create)
                # and the catalog's exports store: export files are named by their keys in it
                open_exports_store(
                    exports,
                    sessions,
                    settings.paths.tmp,
                    create=create,
                    setting=exports_setting,
                    adopt=adopt,
                    catalog=catalog,
                    place=place_of(settings.exports_store, settings.paths.exports),
                    recorded=lambda value: new_ids.append(
                        NewId(EXPORTS, lambda: ExportsDescription(settings.exports_store), value)
                    ),
                )
            # every node must hash and sign with the installation's keys (db/keys.py)
            check_keys(sessions, settings.paths, record=create)
            if version < LAKE_SCHEMA_VERSION:  # a lake of an older release, opened to write
                log_to_stderr(migration_progress)  # on a command's stderr too
                with hold_job_lock(engine, settings.paths.job_lock):
                    # a damaged file is set aside as every stage's reads do, not a stop
                    migrate_lake(
                        lake,
                        settings.paths.tmp,
                        lambda key: set_aside_file(settings, sessions, key) is not None,
                    )
                description = Description(lake)  # the migration wrote a new one
            if create and known is not None and description.lake_id() is None:
                description.give_id(settings.paths.tmp, known)
        except BaseException as error:
            # a store's write that failed, not a refusal (the exports' refusal is a StorageError)
            unwritten = isinstance(error, OSError | StorageError)
            if new_ids and unwritten and not isinstance(error, ExportsStoreRefused):
                forget_unwritten(new_ids, sessions)
            engine.dispose()
            raise
        return cls(settings, engine, sessions)

    def node_place(self) -> tuple[str, str]:
        """The host and data dir this node is recorded under (:meth:`node_seen`)."""
        return socket.gethostname(), str(self.paths.root)

    def node_seen(self, watermark: datetime | None = None, now: datetime | None = None) -> None:
        """Record that this node is alive (now), and its new watermark if given (db/nodes.py)."""
        settings = self.settings
        for attempt in range(2):
            try:
                with self.sessions.begin() as session:
                    seen(
                        session,
                        settings.node,
                        *self.node_place(),
                        now or datetime.now(UTC),
                        settings.node_timeout,
                        watermark,
                        None if settings.node_name else str(self.paths.node_file),
                    )
                return
            except IntegrityError:  # two workers of one node registering it at once
                if attempt:
                    raise

    def close(self) -> None:
        self.engine.dispose()


def place_of(store: Store, data_dirs: Path) -> Place:
    """Where ``store`` is (store_identity.py), ``data_dirs`` being the data dir's folder for
    it: an S3 store's bucket and prefix, else its folder."""
    if isinstance(store, S3Store):
        return Place.s3(store.bucket, store.prefix)
    if isinstance(store, LocalStore):
        return Place.folder(store.root, data_dirs)
    raise TypeError(f"a store of no known place: {store!r}")


def catalog_elsewhere(settings: Settings) -> str | None:
    """What to do with a new catalog database when the data dir's ``catalog.sqlite3`` or the
    lake's id says the installation has a catalog elsewhere (``db copy`` it here); None when
    nothing says so."""
    sqlite = settings.paths.sqlite_catalog
    elsewhere = settings.database_url is not None and not opens_sqlite_file(
        settings.database_url_value, sqlite
    )
    if elsewhere and sqlite.exists():
        mark = _sqlite_copied_to(sqlite)
        if mark is not None:  # a `db copy` of it is refused: the copy is the catalog to use
            return (
                f"the data dir's {sqlite} was copied to {mark}; that copy is the "
                f"installation's catalog now: {use_catalog(settings, mark.url, 'that catalog')}"
            )
        return (
            f"the data dir's {sqlite} is the installation's catalog: to move it here, "
            "`pullstats db copy --to` this database from it (unset PULLSTATS_DATABASE_URL to "
            "use it as it is)"
        )
    try:
        lake_id = Description(settings.lake).lake_id() if settings.paths.root.is_dir() else None
    except (StorageError, LakeVersionError):
        lake_id = None
    if lake_id is not None:
        return (
            f"the lake is another catalog's (its lake_id is {lake_id}): is "
            "PULLSTATS_DATABASE_URL wrong? To move that catalog here, `pullstats db copy --to` "
            "this database from it"
        )
    return None


def _sqlite_copied_to(sqlite: Path) -> CopiedTo | None:
    """The copied mark of the SQLite catalog ``sqlite`` (which is there); None when
    it has none or cannot be read (then it is not known to have been copied)."""
    engine = make_engine(f"sqlite:///{sqlite}")
    try:
        return engine_copied_to(engine)
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def _no_catalog_yet(settings: Settings) -> NoInstallation:
    return NoInstallation(
        "the catalog database holds no pullstats catalog yet: "
        + (
            catalog_elsewhere(settings)
            or "run `pullstats db upgrade` (or any command that adds something) first"
        )
    )


def _missing_sqlite_file(url: str) -> bool:
    """Whether ``url`` names a SQLite file that is not there (SQLite would make it, empty)."""
    database = sqlite_file(url)
    return database is not None and not Path(database).exists()


def _sqlite_file(settings: Settings) -> Path | None:
    """The data dir's SQLite catalog when the settings use it and it is not there yet."""
    path = settings.paths.sqlite_catalog
    return path if settings.database_url is None and not path.exists() else None


def _catalog_named(settings: Settings) -> str:
    """How a refusal names the catalog the settings open (never the URL: it may hold a
    password)."""
    sqlite = settings.paths.sqlite_catalog
    if settings.database_url is None:
        return f"the SQLite catalog {sqlite} (PULLSTATS_DATABASE_URL is not set)"
    if opens_sqlite_file(settings.database_url_value, sqlite):
        return f"the SQLite catalog {sqlite} (named by PULLSTATS_DATABASE_URL)"
    if sqlite.exists():  # the embedded installation's, when the URL is meant to move it
        return (
            f"the database of PULLSTATS_DATABASE_URL (the data dir's {sqlite.name} is another "
            "catalog)"
        )
    return "the database of PULLSTATS_DATABASE_URL"


def opens_sqlite_file(url: str, file: Path) -> bool:
    """Whether ``url`` opens the SQLite ``file``."""
    database = sqlite_file(url)
    return database is not None and Path(database).resolve() == file.resolve()


def not_copied(settings: Settings, sessions: sessionmaker[Session]) -> None:
    """Refuse a catalog that was copied elsewhere: a job left without PULLSTATS_DATABASE_URL
    would work on it, over the stores the copy owns now (and delete the copy's exports)."""
    with sessions() as session:
        mark = copied_to(session)
    if mark is None:
        return
    raise CatalogCopied(
        f"{_catalog_named(settings)} was copied to {mark} and is not the installation's catalog "
        f"any more: {use_catalog(settings, mark.url, 'that catalog')}. Nothing was changed"
    )


def use_catalog(settings: Settings, url: str, named: str) -> str:
    """What to do to use the catalog at ``url`` (``named`` so): set PULLSTATS_DATABASE_URL
    to it, or unset it when ``url`` is the data dir's own SQLite catalog, its default."""
    if opens_sqlite_file(url, settings.paths.sqlite_catalog):
        return "unset PULLSTATS_DATABASE_URL (the data dir's own catalog is its default)"
    return f"set PULLSTATS_DATABASE_URL to {named}"


def _not_another_catalogs(
    kind: StoreKind, store: Described, setting: str | None, catalog: str
) -> None:
    """Refuse a new catalog a store that another catalog gave its id."""
    found = store.store_id()
    if found is not None:
        named = f"{setting}: " if setting else ""
        raise another_catalogs(kind, store, found, named=named, catalog=catalog)


_HINT = (
    "set PULLSTATS_DATA_DIR to the installation's data dir, or create one with "
    "`pullstats db upgrade`"
)


def no_data_dir(root: Path) -> str:
    """What every command that creates nothing says of a data dir that is not there."""
    return f"no pullstats data dir at {root}: {_HINT}"


def _check_installed(settings: Settings) -> None:
    root = settings.paths.root
    problem = settings.paths.not_a_folder()
    if problem is not None:
        raise NoInstallation(problem)
    if not root.is_dir():
        raise NoInstallation(no_data_dir(root))
    catalog = settings.paths.sqlite_catalog
    if settings.database_url is None and not catalog.is_file():
        lake = root / "lake"
        if settings.paths.lake_here and (lake / META_FILE).is_file():
            # an installation's lake without its catalog: a node of a PostgreSQL catalog
            # started without the URL (or a lost file); `db upgrade` would make a stray one
            raise NoInstallation(
                f"no catalog at {catalog}, though {lake} is an installation's lake: set "
                "PULLSTATS_DATABASE_URL to the installation's catalog if it is on PostgreSQL, "
                "or restore catalog.sqlite3 from a backup (docs/operations.md)"
            )
        raise NoInstallation(f"no catalog at {catalog}: {_HINT}")
    if settings.database_url is None and os.statvfs(root).f_flag & os.ST_RDONLY:
        raise NoInstallation(  # else SQLite's "unable to open database file"
            f"PULLSTATS_DATA_DIR={root} is on a read-only file system: its SQLite catalog "
            "cannot be opened there, even to read (WAL writes beside it); mount it read-write"
        )
