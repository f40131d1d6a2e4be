"""Password hashing with argon2id; a dummy hash keeps unknown-user logins as slow as real ones."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Made on first use, not at import: every CLI command imports this module, few log in."""
    return _HASHER.hash("pullstats: no such user")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; with no hash, spends the same time and says False."""
    try:
        return (
            _HASHER.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False
