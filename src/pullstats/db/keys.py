"""The keys every node of an installation must share, checked against the catalog.

The keys themselves stay files in the keys dir (``PULLSTATS_KEYS_DIR``, by default the data
dir's ``keys/``), which every node reads: a shared mount or a mounted secret. The catalog holds
only a **fingerprint** of each, by (ring, kid): HMAC-SHA256 of a fixed label under the key, which
tells two keys apart and gives nothing of either away. A node whose keys differ from the
catalog's, or which lacks the newest key of a ring, is refused (:class:`KeysDiffer`) before it
hashes an address, signs a token or takes a request: otherwise it would count one address as
two IPs and reject the other nodes' tokens.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pullstats.data_dir import DataDir
from pullstats.db.models import InstallationKey
from pullstats.signing_keys import FIRST_KID, key_files, kid_order

#: The setting an operator fixes when keys differ.
KEYS_SETTING = "PULLSTATS_KEYS_DIR"
_LABEL = b"pullstats key fingerprint v1"


class KeysDiffer(RuntimeError):
    """This node's keys are not the installation's: it must not start."""


def fingerprint(secret: bytes) -> str:
    """32 hex digits that differ between keys and reveal nothing of them."""
    return hmac.new(secret, _LABEL, hashlib.sha256).hexdigest()[:32]


def local_fingerprints(keys_dir: Path) -> dict[tuple[str, str], str]:
    found = {}
    for key, path in key_files(keys_dir).items():
        try:
            found[key] = fingerprint(path.read_bytes())
        except FileNotFoundError:  # deleted by a rotation meanwhile
            continue
    return found


_FIX = (
    f"point {KEYS_SETTING} at the keys every node shares (a shared mount or a mounted secret), "
    "or copy the installation's key files into it"
)


def _name(ring: str, kid: str) -> str:
    return f"{ring} key" if kid == FIRST_KID else f"{ring} key {kid}"


def _lacks(paths: DataDir, ring: str, kid: str) -> str:
    return f"{paths.keys_named}: it lacks the installation's {_name(ring, kid)}: {_FIX}"


def _problem(
    paths: DataDir, local: dict[tuple[str, str], str], catalog: dict[tuple[str, str], str]
) -> str | None:
    """Why this node's keys are not the installation's (the first reason), or None."""
    for key, mark in sorted(catalog.items()):
        if key in local and local[key] != mark:
            # fingerprint prefixes only: enough to tell which copy is which
            return (
                f"{paths.keys_named}: its {_name(*key)} differs from the installation's "
                f"(fingerprint {local[key][:12]}, the catalog's {mark[:12]}): {_FIX}"
            )
    newest: dict[str, str] = {}
    for ring, kid in catalog:
        if ring not in newest or kid_order(kid) > kid_order(newest[ring]):
            newest[ring] = kid
    for ring, kid in sorted(newest.items()):
        if (ring, kid) not in local:
            return _lacks(paths, ring, kid)
    return None


def _catalog(session: Session) -> dict[tuple[str, str], str]:
    return {
        (row.ring, row.kid): row.fingerprint for row in session.scalars(select(InstallationKey))
    }


def check_keys(sessions: sessionmaker[Session], paths: DataDir, *, record: bool = True) -> None:
    """Refuse keys that differ from the installation's; record the fingerprints of new ones.

    Two nodes recording a first key at once: one insert fails, and the check runs again against
    the winner's fingerprint (equal on a shared keys dir, a refusal otherwise). The keys dir is
    read *after* the catalog: a key is in its file before its fingerprint is recorded, so a node
    reading in this order sees every recorded key another node (or worker) made meanwhile.
    """
    for attempt in range(2):
        try:
            with sessions.begin() as session:
                catalog = _catalog(session)
                local = local_fingerprints(paths.keys)
                problem = _problem(paths, local, catalog)
                if problem is not None:
                    raise KeysDiffer(problem)
                if record:
                    now = datetime.now(UTC)
                    for (ring, kid), mark in local.items():
                        if (ring, kid) not in catalog:
                            session.add(
                                InstallationKey(
                                    ring=ring, kid=kid, fingerprint=mark, recorded_at=now
                                )
                            )
            return
        except IntegrityError:
            if attempt:
                raise


def shared_secret(sessions: sessionmaker[Session], paths: DataDir, name: str) -> bytes:
    """The key file ``name`` of the keys dir, made if the installation has none of that ring
    yet, and checked against (or recorded in) the catalog before anything uses it."""
    if not (paths.keys / name).exists():
        ring = name.removesuffix(".key")
        with sessions() as session:
            known = session.scalar(select(InstallationKey.kid).where(InstallationKey.ring == ring))
        # made by another node (never make a second one), unless the file is there now: another
        # worker links it into place before it records it
        if known is not None and not (paths.keys / name).exists():
            raise KeysDiffer(_lacks(paths, ring, FIRST_KID))
    secret = paths.secret_key(name)
    check_keys(sessions, paths)
    return secret


def forget_keys(session: Session, ring: str, kids: Iterable[str]) -> None:
    """Drop the fingerprints of keys a rotation deleted."""
    kids = list(kids)
    if kids:
        session.execute(
            delete(InstallationKey).where(
                InstallationKey.ring == ring, InstallationKey.kid.in_(kids)
            )
        )
