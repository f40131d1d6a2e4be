"""Password hashing with argon2id; a dummy hash keeps unknown-user logins as slow as real ones.

The cost of new hashes is the process's ``PULLSTATS_PASSWORD_HASHING``, set by
:func:`use_hashing` when the installation is opened; a stored hash is verified at the cost it
was made with, whatever the setting is now.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

Hashing = Literal["standard", "insecure-test"]

_HASHERS: dict[Hashing, PasswordHasher] = {
    "standard": PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY),
    "insecure-test": PasswordHasher.from_parameters(profiles.CHEAPEST),
}
_hashing: Hashing = "standard"


def use_hashing(hashing: Hashing) -> None:
    """Make new hashes (and the dummy one) with ``hashing``'s cost from now on, in this process."""
    global _hashing
    _hashing = hashing


@cache
def _dummy_hash(hashing: Hashing) -> str:
    """Made on first use, not at import: every CLI command imports this module, few log in."""
    return _HASHERS[hashing].hash("pullstats: no such user")


def hash_password(password: str) -> str:
    return _HASHERS[_hashing].hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; with no hash, spends the same time and says False."""
    try:
        # verification reads the cost from the hash itself: any hasher verifies any hash
        hasher = _HASHERS[_hashing]
        return (
            hasher.verify(password_hash or _dummy_hash(_hashing), password)
            and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False
