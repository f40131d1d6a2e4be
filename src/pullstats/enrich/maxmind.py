"""An operator's own MaxMind GeoIP2 / GeoLite2 databases (``.mmdb``), read with ``maxminddb``.

``PULLSTATS_GEOIP_COUNTRY_DB`` (a Country or City database) replaces the bundled country data;
``PULLSTATS_GEOIP_ASN_DB`` (an ASN or ISP database) replaces the bundled organisation names;
``PULLSTATS_GEOIP_DOMAIN_DB`` (a Domain or Enterprise database) gives the organisation domain,
which no bundled data has. An Enterprise database holds all three, and may be named in each;
as the organisation database it also gives each network's category (``traits.user_type``).
Each file is opened once per process (memory-mapped by the C extension) and read once per
distinct address of a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import maxminddb


@cache
def open_database(path: Path) -> maxminddb.Reader:
    """The reader for one file; a missing or damaged file fails the run with the file's name."""
    try:
        return maxminddb.open_database(str(path))
    except (OSError, ValueError) as error:
        raise RuntimeError(f"cannot read MaxMind database {path}: {error}") from error


def countries(path: Path, addresses: Sequence[str]) -> list[str]:
    """ISO 3166-1 alpha-2 per address: where it is located, else where it is registered."""
    reader = open_database(path)
    codes = []
    for address in addresses:
        record = _get(reader, address)
        country = record.get("country") or record.get("registered_country") or {}
        code = country.get("iso_code", "") if isinstance(country, dict) else ""
        codes.append(code if isinstance(code, str) else "")
    return codes


def organisations(path: Path, addresses: Sequence[str]) -> tuple[list[str], list[str]]:
    """Autonomous-system organisation per address (ASN databases; ISP databases name it too;
    Enterprise databases keep both under ``traits``), and MaxMind's category of the network
    (``traits.user_type``: Enterprise only, else "")."""
    reader = open_database(path)
    names, user_types = [], []
    for address in addresses:
        record = _get(reader, address)
        traits = record.get("traits")
        traits = traits if isinstance(traits, dict) else {}
        name = (
            record.get("autonomous_system_organization")
            or record.get("organization")
            or traits.get("autonomous_system_organization")
            or traits.get("organization")
        )
        user_type = traits.get("user_type")
        names.append(name if isinstance(name, str) else "")
        user_types.append(user_type if isinstance(user_type, str) else "")
    return names, user_types


def domains(path: Path, addresses: Sequence[str]) -> list[str]:
    """Second-level domain per address ("example.co.uk"): a Domain database keeps it at the top
    of the record, an Enterprise database under ``traits``."""
    reader = open_database(path)
    found = []
    for address in addresses:
        record = _get(reader, address)
        traits = record.get("traits")
        domain = record.get("domain") or (traits.get("domain") if isinstance(traits, dict) else "")
        found.append(domain if isinstance(domain, str) else "")
    return found


def _get(reader: maxminddb.Reader, address: str) -> dict[str, Any]:
    try:
        record = reader.get(address)
    except ValueError:  # not an address, or IPv6 asked of an IPv4-only database
        return {}
    return record if isinstance(record, dict) else {}
