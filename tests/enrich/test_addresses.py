"""PrefixTable against a plain Python reading of the same CIDR blocks."""

from __future__ import annotations

import io
import ipaddress

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pullstats.enrich.addresses import NOT_FOUND, PrefixTable, address_keys
from tests.conftest import examples


def _network(draw: st.DrawFn) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if draw(st.booleans()):
        length = draw(st.integers(8, 32))
        base = draw(st.integers(0, 2**32 - 1))
        return ipaddress.IPv4Network((base >> (32 - length) << (32 - length), length))
    length = draw(st.integers(16, 128))
    # global unicast (2000::/3), where real IPv6 data lives; never inside ::/96
    base = (0x2000 << 112) | draw(st.integers(0, 2**125 - 1))
    return ipaddress.IPv6Network((base >> (128 - length) << (128 - length), length))


networks = st.composite(_network)


def _expected(blocks: list[ipaddress.IPv4Network | ipaddress.IPv6Network], address: str) -> int:
    """Most specific block holding the address; among equal blocks the later one."""
    best, best_length = NOT_FOUND, -1
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return NOT_FOUND
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:a.b.c.d is that IPv4 client behind a dual-stack socket
    for value, block in enumerate(blocks):
        if ip.version == block.version and ip in block and block.prefixlen >= best_length:
            best, best_length = value, block.prefixlen
    return best


@pytest.mark.slow
@settings(max_examples=examples(150), deadline=None)
@given(st.lists(networks(), min_size=1, max_size=30), st.data())
def test_lookup_matches_python(blocks: list, data: st.DataObject) -> None:
    table = PrefixTable(
        [int(block.network_address) for block in blocks],
        [block.prefixlen for block in blocks],
        list(range(len(blocks))),
    )
    # addresses at the edges of every block, just outside them, and a few anywhere
    candidates = []
    for block in blocks:
        first, last = int(block.network_address), int(block.broadcast_address)
        top = 2**32 - 1 if block.version == 4 else 2**128 - 1
        for number in (first, last, max(first - 1, 0), min(last + 1, top)):
            candidates.append(
                str(
                    ipaddress.ip_address(number)
                    if block.version == 4
                    else ipaddress.IPv6Address(number)
                )
            )
    candidates += data.draw(st.lists(st.ip_addresses().map(str), max_size=10))
    candidates += ["not an address", "", "::ffff:10.1.2.3"]
    found = table.lookup(address_keys(candidates), len(candidates)).tolist()
    assert found == [_expected(blocks, address) for address in candidates]
    # and as the data dir's cache keeps it: through an .npz file and back
    copy = PrefixTable.from_arrays(_through_npz(table.arrays()))
    assert copy.size == len(blocks)
    assert copy.lookup(address_keys(candidates), len(candidates)).tolist() == found


def _through_npz(arrays: dict) -> dict:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        return {name: loaded[name] for name in loaded.files}


def test_arrays_of_unequal_length_are_refused() -> None:
    table = PrefixTable([int(ipaddress.IPv4Address("10.0.0.0"))], [8], [7])
    arrays = table.arrays()
    arrays["v4.0.values"] = np.array([7, 8], dtype=np.int32)
    with pytest.raises(ValueError, match="differ in length"):
        PrefixTable.from_arrays(arrays)


def test_mapped_ipv6_is_read_as_ipv4() -> None:
    table = PrefixTable([int(ipaddress.IPv4Address("10.0.0.0"))], [8], [7])
    keys = address_keys(["::ffff:10.1.2.3", "10.255.255.255", "11.0.0.0"])
    assert table.lookup(keys, 3).tolist() == [7, 7, NOT_FOUND]
