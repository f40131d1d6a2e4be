"""The data dir's two signing-key rings, with the lifetimes this installation's settings give
the tokens they sign: one place for the server and ``pullstats keys`` to agree on them."""

from __future__ import annotations

from pullstats.accounts.jwt_tokens import JWT_KEYS, TWO_FACTOR_TTL
from pullstats.config import Settings
from pullstats.exports.signing import DOWNLOAD_KEYS
from pullstats.signing_keys import KeyRing


def jwt_key_ring(settings: Settings) -> KeyRing:
    """Login JWTs and login_2fa_tokens: a retired key verifies for the longer of their TTLs."""
    lifetime = max(settings.jwt_ttl, TWO_FACTOR_TTL).total_seconds()
    return KeyRing(settings.paths.keys, JWT_KEYS, lifetime)


def download_key_ring(settings: Settings) -> KeyRing:
    """Download links: a retired key verifies for ``PULLSTATS_DOWNLOAD_LINK_LIFETIME``."""
    return KeyRing(
        settings.paths.keys, DOWNLOAD_KEYS, settings.download_link_lifetime.total_seconds()
    )


def key_rings(settings: Settings) -> dict[str, KeyRing]:
    return {JWT_KEYS: jwt_key_ring(settings), DOWNLOAD_KEYS: download_key_ring(settings)}
