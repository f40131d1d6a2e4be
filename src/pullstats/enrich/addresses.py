"""IP addresses as sortable keys, and a table of CIDR networks searched with NumPy.

IPv4 addresses become ``uint64`` integers and IPv6 addresses 16-byte big-endian strings
(NumPy ``S16``, which sorts like the 128-bit number). A :class:`PrefixTable` holds CIDR blocks
with a value each and answers the value of the most specific block holding each address, for a
whole array of addresses at once with ``searchsorted``.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

IPV4_LIMIT = 1 << 32
_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"  # ::ffff:a.b.c.d carries an IPv4 address

NOT_FOUND = -1


@dataclass(frozen=True, slots=True)
class AddressKeys:
    """Search keys for a list of addresses; ``*_at`` give each key's index in that list."""

    v4: npt.NDArray[np.uint64]
    v4_at: npt.NDArray[np.intp]
    v6: npt.NDArray[np.bytes_]
    v6_at: npt.NDArray[np.intp]


def address_keys(addresses: Sequence[str]) -> AddressKeys:
    """Parse each address once; text that is not an address gets no key (and so no match)."""
    v4: list[int] = []
    v4_at: list[int] = []
    v6: list[bytes] = []
    v6_at: list[int] = []
    for index, text in enumerate(addresses):
        try:
            v4.append(int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big"))
            v4_at.append(index)
            continue
        except (OSError, ValueError, TypeError):
            pass
        try:
            packed = socket.inet_pton(socket.AF_INET6, text)
        except (OSError, ValueError, TypeError):
            continue
        if packed.startswith(_MAPPED_PREFIX):
            v4.append(int.from_bytes(packed[12:], "big"))
            v4_at.append(index)
        else:
            v6.append(packed)
            v6_at.append(index)
    return AddressKeys(
        v4=np.array(v4, dtype=np.uint64),
        v4_at=np.array(v4_at, dtype=np.intp),
        v6=np.array(v6, dtype="S16"),
        v6_at=np.array(v6_at, dtype=np.intp),
    )


@dataclass(frozen=True, slots=True)
class _Layer:
    """CIDR blocks of one prefix length: never overlapping, so one searchsorted finds the block."""

    firsts: npt.NDArray[Any]
    lasts: npt.NDArray[Any]
    values: npt.NDArray[np.int32]

    def lookup(self, keys: npt.NDArray[Any]) -> npt.NDArray[np.int32]:
        """Value per key, :data:`NOT_FOUND` where no block of this layer holds it."""
        found = np.full(len(keys), NOT_FOUND, dtype=np.int32)
        if len(self.firsts) == 0 or len(keys) == 0:
            return found
        position = np.searchsorted(self.firsts, keys, side="right") - 1
        inside = position >= 0
        clipped = np.where(inside, position, 0)
        inside &= keys <= self.lasts[clipped]
        found[inside] = self.values[clipped[inside]]
        return found


class PrefixTable:
    """CIDR blocks (IPv4 and IPv6) → an integer value; the most specific block wins.

    CIDR blocks are either nested or disjoint, so blocks of one prefix length never overlap;
    looking layers up from the longest prefix to the shortest gives the most specific match.
    """

    def __init__(
        self, firsts: Sequence[int], prefix_lengths: Sequence[int], values: Sequence[int]
    ) -> None:
        """``firsts`` are network addresses as integers; below 2**32 they are IPv4."""
        lengths = np.asarray(prefix_lengths, dtype=np.int16)
        value_array = np.asarray(values, dtype=np.int32)
        is_v6 = np.fromiter((first >= IPV4_LIMIT for first in firsts), bool, len(firsts))
        v4_index = np.flatnonzero(~is_v6)
        v4_firsts = np.array([firsts[i] for i in v4_index.tolist()], dtype=np.uint64)
        v4_lasts = v4_firsts + (np.uint64(1) << (32 - lengths[v4_index]).astype(np.uint64)) - 1
        v6_index = np.flatnonzero(is_v6)
        v6_firsts_int = [firsts[i] for i in v6_index.tolist()]
        v6_lasts_int = [
            first + (1 << (128 - length)) - 1
            for first, length in zip(v6_firsts_int, lengths[v6_index].tolist(), strict=True)
        ]
        self._v4 = _layers(v4_firsts, v4_lasts, lengths[v4_index], value_array[v4_index])
        self._v6 = _layers(
            _packed(v6_firsts_int), _packed(v6_lasts_int), lengths[v6_index], value_array[v6_index]
        )
        self.size = len(firsts)

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The table as named arrays, for a file (``numpy.savez``, no pickle):
        :meth:`from_arrays` reads them back."""
        named: dict[str, npt.NDArray[Any]] = {"size": np.array(self.size, dtype=np.int64)}
        for family, layers in (("v4", self._v4), ("v6", self._v6)):
            for index, layer in enumerate(layers):
                for part in _LAYER_PARTS:
                    named[f"{family}.{index}.{part}"] = getattr(layer, part)
        return named

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]]) -> PrefixTable:
        """The table :meth:`arrays` gave (``KeyError`` or ``ValueError`` when they are not
        whole)."""
        table = cls.__new__(cls)
        families: dict[str, list[_Layer]] = {}
        for family in ("v4", "v6"):
            count = len({name.split(".")[1] for name in arrays if name.startswith(family + ".")})
            families[family] = [
                _Layer(*(arrays[f"{family}.{index}.{part}"] for part in _LAYER_PARTS))
                for index in range(count)
            ]
        layers = families["v4"] + families["v6"]
        if any(not len(layer.firsts) == len(layer.lasts) == len(layer.values) for layer in layers):
            raise ValueError("a layer's arrays differ in length")
        table._v4, table._v6 = families["v4"], families["v6"]
        table.size = int(arrays["size"])
        return table

    def lookup(self, keys: AddressKeys, count: int) -> npt.NDArray[np.int32]:
        """The value for each of ``count`` addresses, :data:`NOT_FOUND` where no block holds it."""
        out = np.full(count, NOT_FOUND, dtype=np.int32)
        for layers, family_keys, at in (
            (self._v4, keys.v4, keys.v4_at),
            (self._v6, keys.v6, keys.v6_at),
        ):
            # sorted keys make the binary searches walk memory forwards; each layer searches
            # only the keys that no more specific layer has claimed
            order = np.argsort(family_keys, kind="stable")
            sorted_keys, sorted_at = family_keys[order], at[order]
            open_ = np.arange(len(sorted_keys))
            for layer in layers:
                if len(open_) == 0:
                    break
                hits = layer.lookup(sorted_keys[open_])
                claimed = hits != NOT_FOUND
                out[sorted_at[open_[claimed]]] = hits[claimed]
                open_ = open_[~claimed]
        return out


#: A layer's arrays, in :class:`_Layer`'s order.
_LAYER_PARTS = ("firsts", "lasts", "values")


def _packed(numbers: list[int]) -> npt.NDArray[np.bytes_]:
    return np.frombuffer(b"".join(n.to_bytes(16, "big") for n in numbers), dtype="S16")


def _layers(
    firsts: npt.NDArray[Any],
    lasts: npt.NDArray[Any],
    lengths: npt.NDArray[np.int16],
    values: npt.NDArray[np.int32],
) -> list[_Layer]:
    layers = []
    for length in sorted(set(lengths.tolist()), reverse=True):
        chosen = np.flatnonzero(lengths == length)
        order = chosen[np.argsort(firsts[chosen], kind="stable")]
        layers.append(_Layer(firsts[order], lasts[order], values[order]))
    return layers
