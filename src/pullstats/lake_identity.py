"""Which lake is the installation's: its id, in the lake's ``_meta.json`` and in the catalog.

A catalog's rollups, pending days and exports describe one lake. Opened with another (a
mistyped ``PULLSTATS_LAKE_URL``, a node whose lake is its own local folder), a command would
take it for a lake with nothing in it: ``process`` would recompute periods from it, ``export``
withdraw their files, and setting the URL right would not undo it. So the first command that
opens an installation to write records a random id in the catalog (``pipeline_state``) and in
the lake's description, and every command after it refuses a lake whose id is not the catalog's,
an empty place included, before anything else. A lake of a release before ids is given the
catalog's (or a new one) when a command opens it to write, as is the empty place of a new
installation; an empty place is refused to a catalog that holds processed periods. The
catalog's id is settled first, so nodes starting together on a new installation write one id.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pullstats.db.models import RollupPeriod
from pullstats.db.state import get_value, set_value
from pullstats.lake_meta import ID_KEY, META_FILE, Description, LakeVersionError

#: the catalog's name for the id (``pipeline_state``)
CATALOG_KEY = "lake_id"


def installation_lake(
    lake: Description, sessions: sessionmaker[Session], *, create: bool, setting: str | None
) -> str | None:
    """The installation's lake id once ``lake`` is known to be its lake (:class:`LakeVersionError`
    else, naming ``setting``'s value or the data dir's folder); None when nothing records one
    yet and ``create`` is off. The caller gives the lake the id where it lacks one."""
    found = lake.lake_id()
    named = f"{setting}: " if setting else ""
    known, recorded_now = _recorded(lake, sessions, found, create=create, named=named)
    if known is None or found == known:
        return known
    if found is None and (recorded_now or not lake.is_new()):
        # the first open of this installation, or a lake written before ids (whose description
        # lake_meta checks first): the caller gives it the catalog's id
        return known
    where = lake.path
    if found is not None:
        this = f'its "{ID_KEY}" is {found}'
    else:
        this = "there is no lake there (a new, empty place)"
    raise LakeVersionError(
        f"{named}{where}: not the installation's lake: the catalog's lake is {known}, and "
        f"{this}. Point PULLSTATS_LAKE_URL at the installation's lake (its {META_FILE} holds "
        f'"{ID_KEY}": "{known}"); every node shares one lake'
    )


def _recorded(
    lake: Description,
    sessions: sessionmaker[Session],
    found: str | None,
    *,
    create: bool,
    named: str,
) -> tuple[str | None, bool]:
    """The catalog's lake id, recording ``found`` (or a new one) first if it has none and
    ``create``; and whether this call recorded it."""
    with sessions() as session:
        known = get_value(session, CATALOG_KEY)
    if known is not None or not create:
        return known, False
    if found is None and lake.is_new():
        with sessions() as session:
            processed = session.scalar(select(RollupPeriod.period_start).limit(1)) is not None
        if processed:
            # a catalog of a release before ids, whose periods came from some lake: not this one
            raise LakeVersionError(
                f"{named}{lake.path}: there is no lake there (a new, empty place), but the "
                "catalog holds periods processed from one: point PULLSTATS_LAKE_URL at the "
                "installation's lake"
            )
    try:
        with sessions.begin() as session:
            set_value(session, CATALOG_KEY, found or uuid.uuid4().hex)
    except IntegrityError:  # another node recorded one first: that one
        pass
    with sessions() as session:
        known = get_value(session, CATALOG_KEY)
    return known, known is not None and (found is None or known == found)
