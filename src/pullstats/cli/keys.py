"""``pullstats keys``: list and rotate the signing keys of login JWTs and download links."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import StrEnum

import typer

from pullstats.cli.common import fail, out
from pullstats.config import Settings
from pullstats.db.keys import KeysDiffer, check_keys, forget_keys
from pullstats.db.migrate import SchemaOutdated
from pullstats.key_rings import key_rings
from pullstats.runtime import NoInstallation, Runtime, no_data_dir
from pullstats.signing_keys import FIRST_KID, KeyRing, SigningKey, rotate
from pullstats.storage import StorageError

keys_app = typer.Typer(
    help="Signing keys of login JWTs and download links: list and rotate.",
    no_args_is_help=True,
)


class Ring(StrEnum):
    jwt = "jwt"
    download = "download"


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _state(ring: KeyRing, key: SigningKey, now: float) -> str:
    if key.retired is None:
        return "signing"
    until = key.retired + ring.lifetime
    if now >= until:
        return "expired (deleted by the next rotate)"
    return f"verifying until {_when(until)}"


def _rings(settings: Settings, only: Ring | None) -> dict[str, KeyRing]:
    if not settings.paths.root.is_dir():
        raise fail(no_data_dir(settings.paths.root))
    rings = key_rings(settings)
    return {name: ring for name, ring in rings.items() if only is None or name == only.value}


@keys_app.command("list")
def keys_list() -> None:
    """One line per key: ring, kid, creation time and state (signing, verifying until, expired)."""
    now = time.time()
    rows = []
    for name, ring in _rings(Settings(), None).items():
        for key in ring.listed():
            created = "-" if key.kid == FIRST_KID else _when(key.created)
            rows.append((name, key.kid, created, _state(ring, key, now)))
    if not rows:
        out.print("no keys yet: the server makes them on its first start")
        return
    table = [("RING", "KID", "CREATED", "STATE"), *rows]
    widths = [max(len(row[column]) for row in table) for column in range(4)]
    for row in table:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        typer.echo(line.rstrip())


@keys_app.command("rotate")
def keys_rotate(
    only: Ring | None = typer.Option(
        None,
        "--only",
        metavar="RING",
        help="Rotate only this ring, jwt or download (default: both).",
    ),
) -> None:
    """Make a new key that signs from now on; older keys still verify until what they signed
    has expired, and keys past that are deleted. A running server picks the new key up at once.
    """
    settings = Settings()
    rings = _rings(settings, only)
    # refused unless this node's keys are the installation's (db/keys.py); the lake and the
    # exports store are not opened: a key leak is answered while the object store is down.
    # Only an installation's catalog: with the stores left alone nothing else would notice a
    # new or mistyped PULLSTATS_DATABASE_URL, which would be made a catalog, get the shared
    # keys dir's new key recorded, and leave the installation's catalog without it
    try:
        runtime = Runtime.open(settings, create=False, stores=False)
    except (SchemaOutdated, NoInstallation, KeysDiffer, StorageError) as error:
        raise fail(str(error)) from None
    try:
        # the keys the catalog lacks yet recorded first, as an open to write does (create=False
        # leaves them): the keys a rotation deletes are then never the catalog's newest
        check_keys(runtime.sessions, runtime.paths)
        for name, ring in rings.items():
            _rotate(runtime, name, ring)
    except KeysDiffer as error:
        raise fail(str(error)) from None
    finally:
        runtime.close()


def _rotate(runtime: Runtime, name: str, ring: KeyRing) -> None:
    """Rotate one ring in the shared keys dir and record it in the catalog, so that every node
    (which re-reads the keys dir at least every second) signs with the new key and a node
    whose keys dir did not get it is refused at its next start. A ring without keys (the
    server never started on this data dir) gets its first: no key signed anything before."""
    if not ring.listed(rescan=True):
        first = ring.signing_key()
        check_keys(runtime.sessions, runtime.paths)
        out.print(
            f"{name}: key {first.kid} signs from now on (the first: nothing was signed before)"
        )
        return
    previous = ring.signing_key()
    new, dropped = rotate(ring)
    check_keys(runtime.sessions, runtime.paths)
    with runtime.sessions.begin() as session:
        forget_keys(session, name, [key.kid for key in dropped])
    until = _when(new.created + ring.lifetime)
    out.print(f"{name}: key {new.kid} signs from now on")
    out.print(f"{name}: key {previous.kid} still verifies until {until}")
    for key in dropped:
        out.print(f"{name}: key {key.kid} deleted (everything it signed has expired)")
