"""The keyed hash that replaces a client address before a request reaches the lake.

The step ``lake.hash_ips`` (:mod:`pullstats.lake.steps`), a function over Arrow arrays: no
engine, no I/O (the key is read by the caller, from ``ip-hash.key`` in the keys dir, which
every node shares: ``db/keys.py`` refuses a node whose key differs).
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

#: The key file of the hash, in the keys dir (``PULLSTATS_KEYS_DIR``, default ``keys/``).
IP_HASH_KEY = "ip-hash.key"
IP_HASH_BYTES = 16  # 128 bits: exact distinct counts without a realistic chance of collision


def hash_ips(ips: pa.Array, key: bytes) -> pa.Array:
    """Keyed hashes of client addresses, computed once per distinct address in the batch."""
    distinct = pc.unique(ips)
    digests = [
        hmac.new(key, ip.encode(), hashlib.sha256).digest()[:IP_HASH_BYTES]
        for ip in distinct.to_pylist()
    ]
    return pa.array(digests, pa.binary(IP_HASH_BYTES)).take(pc.index_in(ips, value_set=distinct))
