"""The keyed hash that replaces a client address before a request reaches the lake.

The step ``lake.hash_ips`` (:mod:`pullstats.lake.steps`), a function over Arrow arrays: no
engine, no I/O (the key is read by the caller, from ``keys/ip-hash.key``).
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

#: The data dir's key file (``keys/``) for the hash.
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
