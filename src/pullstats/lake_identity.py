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
The logic is :mod:`pullstats.store_identity`'s, which the exports store shares.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pullstats.db.models import RollupPeriod
from pullstats.lake_meta import ID_KEY, META_FILE, LakeVersionError
from pullstats.store_identity import StoreKind

#: the catalog's name for the id (``pipeline_state``)
CATALOG_KEY = ID_KEY


def _processed(session: Session) -> bool:
    return session.scalar(select(RollupPeriod.period_start).limit(1)) is not None


LAKE = StoreKind(
    noun="lake",
    setting="PULLSTATS_LAKE_URL",
    file=META_FILE,
    key=CATALOG_KEY,
    empty="there is no lake there (a new, empty place)",
    history="the catalog holds periods processed from one",
    has_history=_processed,
    error=LakeVersionError,
)
