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

A copy of a store carries its id: after a move to object storage (``aws s3 sync`` of the data
dir's ``lake/``), the folder left behind would still be taken for the installation's by a job
that lacks the new setting, and counted or exported from. So the catalog records each store's
:class:`Place` too (``pipeline_state``: an S3 bucket and prefix, the data dir's folder wherever
the data dir is, or a folder named by the setting), with the id or on the first open to write
after it, and every open of a store that has the id at another place is refused, naming both;
``pullstats db upgrade --adopt`` records the new place of a store moved on purpose. Every
folder is one place (:meth:`Place.same`): the nodes of one installation reach a shared mount
at paths of their own, and nothing here tells such a mount from a copy of the folder; what is
refused is a folder for object storage or object storage for a folder, and another bucket or
prefix.

:mod:`pullstats.lake_identity` and :mod:`pullstats.exports_identity` describe their store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from pullstats.db.state import add_value, delete_values, get_value, set_value


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
class Place:
    """Where a store is, as the catalog records it: ``s3://bucket/prefix`` (the endpoint is
    not part of it), the data dir's folder, or a folder a setting names. A folder's ``path``
    is the one the node that recorded it reached it at, for messages: the catalog keeps one
    place for every node, and :meth:`same` does not compare folders' paths."""

    #: "s3", "data-dir" or "folder"
    at: str
    #: the bucket and prefix, or the folder's absolute path
    path: str

    @classmethod
    def s3(cls, bucket: str, prefix: str) -> Place:
        prefix = "/".join(part for part in prefix.split("/") if part)
        return cls("s3", f"s3://{bucket}/{prefix}".rstrip("/"))

    @classmethod
    def folder(cls, folder: Path, data_dirs: Path) -> Place:
        """``folder``, the data dir's own when it is ``data_dirs`` (that data dir's one)."""
        folder, own = folder.resolve(), data_dirs.resolve()
        return cls("data-dir" if folder == own else "folder", str(folder))

    @classmethod
    def parse(cls, text: str) -> Place:
        if text.startswith("s3://"):
            return cls("s3", text)
        at, _, path = text.partition(":")
        return cls(at, path)

    def __str__(self) -> str:
        return self.path if self.at == "s3" else f"{self.at}:{self.path}"

    def shown(self, *, recorded: bool = False) -> str:
        """For messages; ``recorded``: as the catalog records it (the data dir's folder is
        any data dir's, so its path is left out)."""
        if self.at == "data-dir":
            return "the data dir's folder" if recorded else f"the data dir's folder {self.path}"
        return self.path if self.at == "s3" else f"the folder {self.path}"

    def same(self, other: Place) -> bool:
        """Whether a store recorded at ``self`` may be opened at ``other``: the same bucket
        and prefix, or a folder for a folder, whatever their paths. Nodes sharing one mount
        reach it at paths of their own (``/mnt/a/lake`` on one, ``/mnt/b/lake`` on another,
        or the data dir's folder through a host's own link), a data dir restored elsewhere
        keeps its stores, and a path cannot tell a shared folder from a copy of it: what a
        place refuses is a folder left behind by a move to object storage (or the bucket left
        behind by a move back), and another bucket or prefix."""
        if self.at == "s3" or other.at == "s3":
            return self == other
        return True


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

    @property
    def place_key(self) -> str:
        """The name of its :class:`Place` in ``pipeline_state`` (``lake_place``)."""
        return self.key.removesuffix("_id") + "_place"


@dataclass(frozen=True)
class NewId:
    """An id an open recorded for a store that it has still to give the id to: forgotten by
    :func:`forget_unwritten` when that first write fails."""

    kind: StoreKind
    #: the store's description read anew (on S3 a request): whether it holds the id by now
    reread: Callable[[], Described]
    value: str


def installation_store(
    kind: StoreKind,
    store: Described,
    sessions: sessionmaker[Session],
    *,
    create: bool,
    setting: str | None,
    adopt: bool = False,
    catalog: str = "this catalog",
    place: Place | None = None,
    recorded: Callable[[str], None] | None = None,
) -> str | None:
    """The installation's id of ``kind`` once ``store`` is known to be its store (``kind.error``
    else, naming ``setting``'s value or the data dir's folder); None when nothing records one
    yet and ``create`` is off. The caller gives the store the id where it lacks one.

    A catalog that records no id yet takes the id of a store that has one only with ``adopt``
    (:func:`another_catalogs`; ``catalog``: how its refusal names the catalog).

    ``place``: where ``store`` is. A store with the catalog's id at another place than the
    catalog records is refused (:func:`moved`), unless ``adopt``, which records its new place;
    one is recorded where none is yet by an open that records the id or may write.

    ``recorded``: told the id when this call recorded it for a store that holds none (a new
    place), which the caller is to give it (see :class:`NewId`)."""
    found = store.store_id()
    named = f"{setting}: " if setting else ""
    known, recorded_now, inserted = _recorded(
        kind, store, sessions, found, create=create, named=named, adopt=adopt, catalog=catalog
    )
    if known is None:
        return known
    if inserted and found is None and recorded is not None:
        recorded(known)
    # a store written before ids (whose description the caller checks first) is given the
    # catalog's id by the caller, as is the empty place of a new installation
    fresh = found is None and (recorded_now or (kind.unmarked is None and not store.is_new()))
    if found == known or fresh:
        if place is not None:
            _placed(kind, store, sessions, place, create=create, adopt=adopt, setting=setting)
        return known
    if found is not None:
        this = f'its "{kind.key}" is {found}'
    elif not store.is_new():
        this = kind.unmarked or kind.empty
    else:
        this = kind.empty
    raise kind.error(
        f"{named}{store.path}: not the installation's {kind.noun}: the catalog's {kind.noun} is "
        f"{known}, and {this}. Point {kind.setting} at the installation's {kind.noun} (its "
        f'{kind.file} holds "{kind.key}": "{known}"); every node shares one {kind.noun}'
        + _starting_together(kind, store, sessions, found)
    )


def forget_unwritten(new_ids: list[NewId], sessions: sessionmaker[Session]) -> None:
    """Forget the ids (and places) an open recorded when it then failed to write to their new
    stores (a read-only folder, a bucket that refuses writes): left recorded, every later open
    refused every place, a writable one too, as "not the installation's" store, the one named
    in the refusal never having been written. For a failed write alone, not a refusal: of nodes
    starting together, one refused may have recorded the id that others are giving the store.
    An id stays when its store holds it by now (another node's write at the same place), or
    when its store cannot be read to tell, or once the catalog holds anything from such a
    store."""
    for new in new_ids:
        try:
            if new.reread().store_id() is not None:
                continue
        except Exception:
            continue
        with sessions.begin() as session:
            if get_value(session, new.kind.key) != new.value or new.kind.has_history(session):
                continue
            delete_values(session, new.kind.key, new.kind.place_key)


def _starting_together(
    kind: StoreKind, store: Described, sessions: sessionmaker[Session], found: str | None
) -> str:
    """What a refusal of an empty place adds on an installation that holds nothing of the
    store yet: nodes starting together on a new installation, the one that recorded the id
    marks its store a moment after the others read it, and they may meet the store empty."""
    if found is not None or not store.is_new():
        return ""
    with sessions() as session:
        if kind.has_history(session):
            return ""
    return (
        f". On a new installation whose nodes start together, run this again: the node that "
        f"recorded the id marks its {kind.noun} a moment later"
    )


def _placed(
    kind: StoreKind,
    store: Described,
    sessions: sessionmaker[Session],
    place: Place,
    *,
    create: bool,
    adopt: bool,
    setting: str | None,
) -> None:
    """Refuse the installation's store at another place than the catalog records (a copy
    left behind by a move); record ``place`` where none is yet (``create``), or over the one
    recorded with ``adopt`` (a move on purpose, or the shared folder as this node reaches it)."""
    with sessions() as session:
        value = get_value(session, kind.place_key)
    recorded = None if value is None else Place.parse(value)
    if adopt:
        if recorded != place:
            with sessions.begin() as session:
                set_value(session, kind.place_key, str(place))
        return
    if recorded is None:
        if not create:
            return
        # never over one: of nodes starting together one records its place, and the others
        # are checked against it (a node at another place that lost the race is refused)
        with sessions.begin() as session:
            if add_value(session, kind.place_key, str(place)):
                return
        with sessions() as session:
            value = get_value(session, kind.place_key)
        if value is None:  # recorded and removed meanwhile: nothing to check against
            return
        recorded = Place.parse(value)
    if not recorded.same(place):
        raise moved(kind, store, recorded, place, setting)


def moved(
    kind: StoreKind, store: Described, recorded: Place, place: Place, setting: str | None
) -> Exception:
    """The refusal of the installation's store (its id) at ``place``, not at ``recorded``."""
    if setting is None:
        question = f"is {kind.setting} missing?"
    elif recorded.at == "data-dir":
        question = f"should {kind.setting} be unset?"
    else:
        question = f"is {kind.setting} wrong?"
    named = f"{setting}: " if setting else ""
    there = recorded.shown(recorded=True)
    return kind.error(
        f"{named}{store.path}: the installation's {kind.noun} is {there} (the catalog "
        f"records it there), and this command's is {place.shown()}: {question} Nothing "
        f"was changed. If the {kind.noun} was moved here on purpose, `pullstats db upgrade "
        "--adopt` records its new place"
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
) -> tuple[str | None, bool, bool]:
    """The catalog's id of ``kind``, recording ``found`` (or a new one) first if it has none
    and ``create``; whether this call recorded it (or met the same id recorded meanwhile); and
    whether its own record is the one kept (of nodes starting together, one's is)."""
    with sessions() as session:
        known = get_value(session, kind.key)
    if known is not None:
        return known, False, False
    if found is not None and not adopt:
        # a command that only reads too: it would show an empty installation over the store
        raise another_catalogs(kind, store, found, named=named, catalog=catalog)
    if not create:
        return known, False, False
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
        inserted = add_value(session, kind.key, found or uuid.uuid4().hex)
    with sessions() as session:
        known = get_value(session, kind.key)  # ours, or the one another node recorded first
    return known, known is not None and (found is None or known == found), inserted


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
