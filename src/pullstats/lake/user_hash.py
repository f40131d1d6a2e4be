"""The keyed hash that replaces an authenticated user name before a request reaches the lake.

The step ``lake.hash_users`` (:mod:`pullstats.lake.steps`), a function over Arrow arrays: no
engine, no I/O. It uses the installation's ``ip-hash.key`` (the caller reads it; every node
shares it), through a key of its own derived from it, so a user named like an address never
hashes like that address, and no second key has to be made, shared and rotated.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

from pullstats.lake.ip_hash import IP_HASH_BYTES

_LABEL = b"pullstats user hash v1"


def user_key(ip_hash_key: bytes) -> bytes:
    """The key of the user hash, derived from the address hash's key."""
    return hmac.new(ip_hash_key, _LABEL, hashlib.sha256).digest()


def hash_users(users: pa.Array, key: bytes) -> pa.Array:
    """Keyed hashes of user names (``key``: :func:`user_key`), 16 bytes each, computed once
    per distinct name; NULL for a NULL or empty name (an anonymous request)."""
    distinct = pc.unique(users)
    digests = [
        hmac.new(key, name.encode(), hashlib.sha256).digest()[:IP_HASH_BYTES] if name else None
        for name in distinct.to_pylist()
    ]
    return pa.array(digests, pa.binary(IP_HASH_BYTES)).take(pc.index_in(users, value_set=distinct))
