"""Where each partition (namespace, repository, ip_hash) of requests sorted for
classification starts, and the time since each request's previous one in its partition.
:mod:`pullstats.classify.actions` groups the requests from them. Pure.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PARTITION_KEYS = ("namespace", "repository", "ip_hash")


def hashes_collide(requests: pa.Table, starts: np.ndarray | None = None) -> bool:
    """Whether two partitions of hash-ordered ``requests`` share a hash: then some request
    follows one of the same hash but another partition (``starts``: where each partition
    starts, as :func:`gaps_and_starts` finds it, if known)."""
    if starts is None:
        _, starts = gaps_and_starts(requests)
    hashes = requests["partition_hash"].to_numpy()
    return bool(np.any((hashes[1:] == hashes[:-1]) & starts[1:]))


def partition_gaps(requests: pa.Table) -> list[int | None]:
    """Microseconds since the previous request of the same partition, None at a partition's
    first request, for requests sorted by :data:`PARTITION_KEYS` and then by time."""
    gaps, starts = gaps_and_starts(requests)
    result: list[int | None] = pa.array(gaps, pa.int64(), mask=starts).to_pylist()
    return result


def gaps_and_starts(requests: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """:func:`partition_gaps` as two arrays: the gaps (0 at a partition's first request) and
    whether each request is the first of its partition."""
    count = requests.num_rows
    if count == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.bool_)
    same = np.ones(count - 1, dtype=np.bool_)  # row i + 1 is in row i's partition
    for key in PARTITION_KEYS:
        column = requests[key].combine_chunks()
        before, after = column.slice(0, count - 1), column.slice(1)
        equal = pc.fill_null(pc.equal(after, before), False)
        both_null = pc.and_(pc.is_null(before), pc.is_null(after))  # one partition, as in SQL
        same &= pc.or_(equal, both_null).to_numpy(zero_copy_only=False)
    micros = pc.cast(pc.cast(requests["ts"], pa.timestamp("us")), pa.int64())
    ts = micros.to_numpy().astype(np.int64)
    gaps = np.diff(ts, prepend=ts[0])
    return gaps, np.concatenate([[True], ~same])
