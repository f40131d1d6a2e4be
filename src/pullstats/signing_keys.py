"""Rotating signing keys in the data dir: the newest key signs, an older one still verifies
until everything it signed has expired, and is then dropped.

One ring per use (``jwt`` for login JWTs, ``download`` for download links)::

    keys/jwt.key                          the first key, kid "0" (what every data dir had
                                          before rotation existed; made on first start)
    keys/jwt/<kid>.key                    each rotated key; the kid is its creation time,
                                          e.g. 20261203T081500123456Z, so names sort by age

A key is *retired* when the next one is created, and still accepted for ``lifetime`` after
that (the longest a token it signed can live); past that it is *expired*: refused, and deleted
by the next :func:`rotate` or :func:`prune`. A running server sees a rotation on its next
signature or check: the ring re-reads its folder when the folder changes, and at least every
second.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

FIRST_KID = "0"
_KID = re.compile(r"\d{8}T\d{12}Z")
_KEY_BYTES = 32
#: the keys are read again at least this often, changed or not
_RESCAN_SECONDS = 1.0


@dataclass(frozen=True)
class SigningKey:
    kid: str
    secret: bytes
    #: seconds since the epoch; 0 for the first key (its age does not matter, only its successor's)
    created: float
    #: when the next key was created, if one was: from then on this key only verifies
    retired: float | None = None

    def expired(self, lifetime: float, now: float) -> bool:
        """True once everything this key signed has expired: it verifies nothing any more."""
        return self.retired is not None and now >= self.retired + lifetime


def _kid_time(kid: str) -> float:
    return datetime.strptime(kid, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC).timestamp()


def _new_kid(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _write_new(path: Path, secret: bytes) -> bool:
    """Write ``secret`` to ``path`` unless it exists; fsynced, mode 0600, never half-written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)  # fails if the name is taken: the key there is kept
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()


class KeyRing:
    """The keys of one use (``jwt``, ``download``) in ``keys_dir``, re-read when they change."""

    def __init__(self, keys_dir: Path, name: str, lifetime_seconds: float) -> None:
        self.keys_dir = keys_dir
        self.name = name
        self.lifetime = lifetime_seconds
        self._keys: tuple[SigningKey, ...] = ()
        self._seen: tuple[int, int] | None = None
        self._last_scan = 0.0
        self._lock = threading.Lock()

    @property
    def first_path(self) -> Path:
        return self.keys_dir / f"{self.name}.key"

    @property
    def folder(self) -> Path:
        return self.keys_dir / self.name

    def _stamp(self) -> tuple[int, int]:
        """Changes whenever a key is added or deleted (the two folders' modification times)."""
        stamps = []
        for path in (self.keys_dir, self.folder):
            try:
                stamps.append(path.stat().st_mtime_ns)
            except FileNotFoundError:
                stamps.append(0)
        return stamps[0], stamps[1]

    def _read(self) -> tuple[SigningKey, ...]:
        found: list[tuple[str, bytes, float]] = []
        with contextlib.suppress(FileNotFoundError):
            found.append((FIRST_KID, self.first_path.read_bytes(), 0.0))
        try:
            entries = sorted(self.folder.iterdir())
        except FileNotFoundError:
            entries = []
        for path in entries:
            kid = path.name.removesuffix(".key")
            if path.suffix == ".key" and _KID.fullmatch(kid):
                try:
                    found.append((kid, path.read_bytes(), _kid_time(kid)))
                except FileNotFoundError:  # pruned meanwhile
                    continue
        keys = []
        for index, (kid, secret, created) in enumerate(found):
            retired = found[index + 1][2] if index + 1 < len(found) else None
            keys.append(SigningKey(kid, secret, created, retired))
        return tuple(keys)

    def listed(self, rescan: bool = False) -> tuple[SigningKey, ...]:
        """Every key on disk, oldest first (expired ones included), re-read if they changed.

        A folder's modification time has the kernel's coarse clock (a few milliseconds), so a
        rotation just after a read may leave it unchanged: the keys are re-read at least every
        second as well.
        """
        stamp = self._stamp()
        stale = time.monotonic() - self._last_scan >= _RESCAN_SECONDS
        if stamp != self._seen or rescan or stale:
            with self._lock:
                self._keys, self._seen = self._read(), stamp
                self._last_scan = time.monotonic()
        return self._keys

    def signing_key(self) -> SigningKey:
        """The newest key; the first one is made now if there is none at all."""
        keys = self.listed()
        if not keys:
            if not self.keys_dir.exists():  # a folder of the operator's keeps its mode
                self.keys_dir.mkdir(parents=True, exist_ok=True)
                os.chmod(self.keys_dir, 0o700)  # whatever the umask
            _write_new(self.first_path, secrets.token_bytes(_KEY_BYTES))
            keys = self.listed(rescan=True)
        return keys[-1]

    def verifying_key(self, kid: str, now: float | None = None) -> SigningKey | None:
        """The key named ``kid`` while it still verifies, else None."""
        now = time.time() if now is None else now
        key = self._find(self.listed(), kid)
        if key is None or key.expired(self.lifetime, now):
            return None
        return key

    def signs(self, message: bytes) -> str:
        """The hex HMAC-SHA256 of ``message`` under the newest key."""
        return hmac.new(self.signing_key().secret, message, hashlib.sha256).hexdigest()

    def signed(self, message: bytes, mac: str, now: float | None = None) -> bool:
        """Whether ``mac`` is :meth:`signs` of ``message`` under a key that still verifies: a
        rotation leaves what the previous key signed valid for the ring's lifetime. Any other
        text is refused, non-ASCII included (``compare_digest`` raises on it)."""
        if not mac.isascii():
            return False
        now = time.time() if now is None else now
        return any(
            hmac.compare_digest(mac, hmac.new(key.secret, message, hashlib.sha256).hexdigest())
            for key in self.listed()
            if not key.expired(self.lifetime, now)
        )

    @staticmethod
    def _find(keys: tuple[SigningKey, ...], kid: str) -> SigningKey | None:
        return next((key for key in keys if key.kid == kid), None)


def key_files(keys_dir: Path) -> dict[tuple[str, str], Path]:
    """Every key file of a keys dir by (ring, kid): ``<ring>.key`` is the ring's first key (kid
    "0"; ``ip-hash.key`` is the ring ``ip-hash``'s only one), ``<ring>/<kid>.key`` a rotated one.
    """
    found: dict[tuple[str, str], Path] = {}
    try:
        entries = sorted(keys_dir.iterdir())
    except FileNotFoundError:
        return found
    for path in entries:
        if path.name.startswith("."):  # a key being written
            continue
        if path.suffix == ".key" and path.is_file():
            found[(path.stem, FIRST_KID)] = path
        elif path.is_dir():
            for file in sorted(path.glob("*.key")):
                if _KID.fullmatch(file.stem):
                    found[(path.name, file.stem)] = file
    return found


def kid_order(kid: str) -> tuple[bool, str]:
    """Sorts kids by age: the first key ("0"), then rotated keys by creation time."""
    return (kid != FIRST_KID, kid)


def rotate(ring: KeyRing, now: float | None = None) -> tuple[SigningKey, list[SigningKey]]:
    """Make a new key that signs from now on; drop expired keys. Returns (new, dropped)."""
    now = time.time() if now is None else now
    ring.folder.mkdir(parents=True, exist_ok=True)
    os.chmod(ring.folder, 0o700)
    ring.signing_key()  # a data dir that never started still gets its first key first
    while True:
        kid = _new_kid(now)
        if _write_new(ring.folder / f"{kid}.key", secrets.token_bytes(_KEY_BYTES)):
            break
        now += 1e-6  # two rotations in one microsecond: the next name
    dropped = prune(ring, now)
    new = next(key for key in ring.listed(rescan=True) if key.kid == kid)
    return new, dropped


def prune(ring: KeyRing, now: float | None = None) -> list[SigningKey]:
    """Delete the keys that verify nothing any more; the newest key is never deleted."""
    now = time.time() if now is None else now
    dropped = [key for key in ring.listed(rescan=True) if key.expired(ring.lifetime, now)]
    for key in dropped:
        path = ring.first_path if key.kid == FIRST_KID else ring.folder / f"{key.kid}.key"
        path.unlink(missing_ok=True)
    if dropped:
        ring.listed(rescan=True)
    return dropped
