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

from pullstats.config import Settings
from pullstats.setting_values import SettingRefused

#: The settings that name a MaxMind database, with their variables.
DATABASE_SETTINGS = {
    "geoip_country_db": "PULLSTATS_GEOIP_COUNTRY_DB",
    "geoip_asn_db": "PULLSTATS_GEOIP_ASN_DB",
    "geoip_domain_db": "PULLSTATS_GEOIP_DOMAIN_DB",
}


def check_databases(settings: Settings) -> None:
    """Open every MaxMind database the settings name: :class:`SettingRefused`, naming the
    variable and the file, for one that cannot be read. For the commands that enrich and for
    a server (whose jobs enrich in children) to refuse it before they read or accept anything.
    Each file is closed again: a server would otherwise hold the file it started with after
    ``geoipupdate`` replaced it."""
    for name, variable in DATABASE_SETTINGS.items():
        path = getattr(settings, name)
        if path is not None:
            _opened(path, variable).close()


@cache
def open_database(path: Path, variable: str) -> maxminddb.Reader:
    """The reader for one file (named by the setting ``variable``), opened once per process; a
    file that cannot be read as a MaxMind database is :class:`SettingRefused`."""
    return _opened(path, variable)


def _opened(path: Path, variable: str) -> maxminddb.Reader:
    try:
        if path.is_dir():
            reason = "a directory, not a MaxMind database file (.mmdb)"
        else:
            return maxminddb.open_database(str(path))
    except FileNotFoundError:
        reason = "no such file"
    except OSError as error:
        reason = (error.strerror or type(error).__name__).lower()
    except (ValueError, maxminddb.InvalidDatabaseError):  # its words repeat the path
        reason = "not a MaxMind database file (.mmdb), or a damaged one"
    raise SettingRefused(variable, str(path), reason) from None


def countries(path: Path, addresses: Sequence[str]) -> list[str]:
    """ISO 3166-1 alpha-2 per address: where it is located, else where it is registered."""
    reader = open_database(path, DATABASE_SETTINGS["geoip_country_db"])
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
    reader = open_database(path, DATABASE_SETTINGS["geoip_asn_db"])
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
    reader = open_database(path, DATABASE_SETTINGS["geoip_domain_db"])
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
