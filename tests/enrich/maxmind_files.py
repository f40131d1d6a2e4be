"""MaxMind databases for the tests, written with mmdb-writer."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet


def write_country_db(path: Path) -> None:
    """A GeoLite2-Country database: 192.0.2.0/24 in NL, 198.51.100.0/24 registered in SE (no
    location), 2001:db8::/32 in JP."""
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-Country", ipv4_compatible=True)
    writer.insert_network(IPSet(["192.0.2.0/24"]), {"country": {"iso_code": "NL"}})
    # an anycast-style network with only a registered country
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"registered_country": {"iso_code": "SE"}})
    writer.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "JP"}})
    writer.to_db_file(str(path))
