"""Which store is the installation's: a random id in the store's description and in the catalog.

A catalog describes one lake and one exports store. Opened with another (a mistyped
``PULLSTATS_*_URL``, a node whose store is a local folder of its own), a command would take it
for a store with nothing in it, or with files that are not the catalog's: ``process`` would
recompute periods from an empty lake, ``export`` write over another installation's files, the
server list and serve files that are not there. So the first command that opens an
installation to write records a random id in the catalog (``pipeline_state``) and in the
store's description file, and every command after it refuses a store whose id is not the
catalog's, an empty place included, before anything else: one line naming the setting.

A store of a release before ids holds files and no id. The open that records the catalog's id
takes it for the installation's, as it does the empty place of a new installation; an empty
place is refused to a catalog that holds what only a store could have given it (processed
periods, export files). After that first open the lake still takes an unmarked lake for its
own on any open to write (its behaviour since ids); the exports store refuses one
(:attr:`StoreKind.unmarked`), as a node's own folder of exports from before ids is just such a
store. The catalog's id is settled first, so nodes starting together write one id.

:mod:`pullstats.lake_identity` and :mod:`pullstats.exports_identity` describe their store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from pullstats.db.state import add_value, get_value


class Described(Protocol):
    """A store's description as one start-up reads it (once: on S3 each read is a request)."""

    @property
    def path(self) -> str:
        """Where the description is (or would be), for messages."""
        ...

    def store_id(self) -> str | None:
        """The id the description gives the store; None: no description, or one without."""
        ...

    def is_new(self) -> bool:
        """Whether the place holds nothing of such a store yet: no description, no file."""
        ...


@dataclass(frozen=True)
class StoreKind:
    """One kind of store: the names of its id and the words of its refusals."""

    #: what the messages call it (``lake``)
    noun: str
    #: the setting that names it
    setting: str
    #: its description file, at the store's root
    file: str
    #: the id's name, in the description and in ``pipeline_state``
    key: str
    #: how a message says the place holds none (``there is no lake there (…)``)
    empty: str
    #: what the catalog holds that only such a store gave it (``the catalog holds …``)
    history: str
    #: whether the catalog holds it (asked only when it records its first id)
    has_history: Callable[[Session], bool]
    #: the exception of a refusal, from its one-line message
    error: Callable[[str], Exception]
    #: None: a store of a release before ids (files, no id) is taken for the installation's by
    #: any open to write; else, what a refusal says of one met after the catalog's first open
    unmarked: str | None = None


def installation_store(
    kind: StoreKind,
    store: Described,
    sessions: sessionmaker[Session],
    *,
    create: bool,
    setting: str | None,
    adopt: bool = False,
    catalog: str = "this catalog",
) -> str | None:
    """The installation's id of ``kind`` once ``store`` is known to be its store (``kind.error``
    else, naming ``setting``'s value or the data dir's folder); None when nothing records one
    yet and ``create`` is off. The caller gives the store the id where it lacks one.

    A catalog that records no id yet takes the id of a store that has one only with ``adopt``
    (:func:`another_catalogs`; ``catalog``: how its refusal names the catalog)."""
    found = store.store_id()
    named = f"{setting}: " if setting else ""
    known, recorded_now = _recorded(
        kind, store, sessions, found, create=create, named=named, adopt=adopt, catalog=catalog
    )
    if known is None or found == known:
        return known
    if found is None and not store.is_new():
        # a store written before ids (whose description the caller checks first)
        if recorded_now or kind.unmarked is None:
            return known  # the caller gives it the catalog's id
        this = kind.unmarked
    elif found is None and recorded_now:
        return known  # the first open of a new installation: its empty place
    elif found is not None:
        this = f'its "{kind.key}" is {found}'
    else:
        this = kind.empty
    raise kind.error(
        f"{named}{store.path}: not the installation's {kind.noun}: the catalog's {kind.noun} is "
        f"{known}, and {this}. Point {kind.setting} at the installation's {kind.noun} (its "
        f'{kind.file} holds "{kind.key}": "{known}"); every node shares one {kind.noun}'
    )


def _recorded(
    kind: StoreKind,
    store: Described,
    sessions: sessionmaker[Session],
    found: str | None,
    *,
    create: bool,
    named: str,
    adopt: bool,
    catalog: str,
) -> tuple[str | None, bool]:
    """The catalog's id of ``kind``, recording ``found`` (or a new one) first if it has none
    and ``create``; and whether this call recorded it."""
    with sessions() as session:
        known = get_value(session, kind.key)
    if known is not None or not create:
        return known, False
    if found is not None and not adopt:
        raise another_catalogs(kind, store, found, named=named, catalog=catalog)
    if found is None and store.is_new():
        with sessions() as session:
            held = kind.has_history(session)
        if held:
            # a catalog of a release before ids, whose history came from some store: not this one
            raise kind.error(
                f"{named}{store.path}: {kind.empty}, but {kind.history}: point {kind.setting} "
                f"at the installation's {kind.noun}"
            )
    # recorded only if none is yet, never over one: of nodes starting together one records its
    # id and the others read it (a node that wrote its own over it would leave the catalog's id
    # and the store's apart, and every node refused for good)
    with sessions.begin() as session:
        add_value(session, kind.key, found or uuid.uuid4().hex)
    with sessions() as session:
        known = get_value(session, kind.key)  # ours, or the one another node recorded first
    return known, known is not None and (found is None or known == found)


def another_catalogs(
    kind: StoreKind, store: Described, found: str, *, named: str, catalog: str
) -> Exception:
    """The refusal of a store that another catalog gave its id (``found``) to a catalog that
    records none: most often the installation's catalog is not the one the settings name (a
    cron job without ``PULLSTATS_DATABASE_URL`` makes a new SQLite catalog). Taken, the store
    would count what it gets for the new catalog only: the installation's catalog would see
    those requests as duplicates and never count them."""
    return kind.error(
        f'{named}{store.path}: the {kind.noun} of another catalog (its "{kind.key}" is '
        f"{found}), and {catalog} records none: is PULLSTATS_DATABASE_URL missing or wrong? "
        "Nothing was changed. To move the installation's catalog here, `pullstats db copy "
        "--to` this database from it; if it is lost, `pullstats db upgrade --adopt` makes this "
        "one the installation's"
    )
