"""Which exports store is the installation's: its id, in the store's ``_exports.json`` and in
the catalog.

The export catalog names files by their keys in one store. Opened with another (a mistyped or
copied ``PULLSTATS_EXPORTS_URL``, a node whose exports went to its own local folder), ``export``
would write a period's files over another installation's and delete folders its catalog does
not name, and the server would list files that are not there or serve files that are not its
own. So the store holds an id the catalog records too (``pipeline_state.exports_id``), and every
command and server start refuses a store with another id, or an empty place, in one line
naming ``PULLSTATS_EXPORTS_URL`` (:mod:`pullstats.store_identity`, the lake's logic).

``_exports.json`` is read once per start-up (one small GET on S3, as the lake's ``_meta.json``).
Its name cannot be an export's: keys start with a namespace, whose names start with a letter
or digit (:mod:`pullstats.names`), and listings, links and ``hub sync`` read the catalog, never
the store's root. It is not the lake's ``_meta.json``, so a lake and exports given one place by
mistake cannot overwrite each other's description.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pullstats import __version__
from pullstats.db.models import ExportFile
from pullstats.storage import StorageError, Store, StoreFile
from pullstats.store_identity import Place, StoreKind, installation_store

DESCRIPTION_FILE = "_exports.json"
#: the id's name, in the description and in the catalog (``pipeline_state``)
CATALOG_KEY = "exports_id"


class ExportsStoreRefused(StorageError):
    """The exports store is not the installation's (or its description cannot be read)."""


def _exported(session: Session) -> bool:
    return session.scalar(select(ExportFile.id).limit(1)) is not None


EXPORTS = StoreKind(
    noun="exports store",
    setting="PULLSTATS_EXPORTS_URL",
    file=DESCRIPTION_FILE,
    key=CATALOG_KEY,
    empty="there are no exports there (a new, empty place)",
    history="the catalog lists export files written to one",
    has_history=_exported,
    error=ExportsStoreRefused,
    unmarked=(
        f"it holds exports but no {DESCRIPTION_FILE}: a store from before ids, another "
        "installation's or a node's own folder (if it is the installation's, give it the "
        f"{DESCRIPTION_FILE} below)"
    ),
)


class ExportsDescription:
    """The exports store's ``_exports.json`` as one start-up sees it: read once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._file = StoreFile(store, DESCRIPTION_FILE, ExportsStoreRefused)

    @property
    def path(self) -> str:
        return self._file.path

    def data(self) -> bytes | None:
        return self._file.data()

    def _members(self) -> dict[str, Any] | None:
        data = self.data()
        if data is None:
            return None
        try:
            meta: Any = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            meta = None
        found = meta.get(CATALOG_KEY) if isinstance(meta, dict) else None
        if not isinstance(meta, dict) or not isinstance(found, str | None):
            raise ExportsStoreRefused(
                f'{self.path}: not a pullstats exports description (expected {{"{CATALOG_KEY}": '
                '"…", ...}): restore it from a backup'
            )
        return meta

    def store_id(self) -> str | None:
        meta = self._members()
        return None if meta is None else meta.get(CATALOG_KEY)

    def is_new(self) -> bool:
        # one listing of the root's folders (a namespace each), only when there is no id
        return self.data() is None and not self.store.folders("")

    def give_id(self, staging: Path, new_id: str) -> None:
        """Write ``new_id`` into the description, keeping what else it holds."""
        meta = self._members() or {
            "written_by": f"pullstats {__version__}",
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        meta = {CATALOG_KEY: new_id, **{k: v for k, v in meta.items() if k != CATALOG_KEY}}
        self._file.write_json(meta, staging)


def open_exports_store(
    description: ExportsDescription,
    sessions: sessionmaker[Session],
    staging: Path,
    *,
    create: bool,
    setting: str | None,
    adopt: bool = False,
    catalog: str = "this catalog",
    place: Place | None = None,
    recorded: Callable[[str], None] | None = None,
) -> None:
    """Refuse an exports store (its ``description``) that is not the installation's
    (:class:`ExportsStoreRefused`, naming ``setting``'s value or the data dir's folder); with
    ``create``, record the id and give it to a store that lacks it (``staging``: where the file
    is written first). ``adopt``, ``catalog``, ``place``, ``recorded``: as for
    :func:`~pullstats.store_identity.installation_store`."""
    known = installation_store(
        EXPORTS,
        description,
        sessions,
        create=create,
        setting=setting,
        adopt=adopt,
        catalog=catalog,
        place=place,
        recorded=recorded,
    )
    if create and known is not None and description.store_id() is None:
        # at once: a new empty place left without its id would be refused from now on
        description.give_id(staging, known)
