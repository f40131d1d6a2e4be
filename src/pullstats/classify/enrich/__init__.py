"""Request enrichment at compaction: dimensions of the raw export derived from IP and user agent.

Geography, cloud host, network type and domain need offline IP data (a later issue); until then
they are empty strings, which the exports and the API treat as unknown.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from pullstats.classify.enrich.user_agent import parse_user_agent

ENRICHED_COLUMNS = ("country", "host", "type", "domain", "user_agent_tool", "user_agent_version")


def enrich(ips: pa.Array, user_agents: pa.Array) -> dict[str, pa.Array]:
    """The enrichment columns for a batch, computed once per distinct value, not per row.

    ``ips`` are the raw client addresses: enrichment runs at compaction, the last moment they
    exist, just before they are replaced by their keyed hash.
    """
    del ips  # geography and networks arrive with the IP data sets
    distinct = pc.unique(user_agents)
    parsed = [parse_user_agent(ua) for ua in distinct.to_pylist()]
    positions = pc.index_in(user_agents, value_set=distinct)
    tools = pa.array([tool for tool, _ in parsed], pa.string()).take(positions)
    versions = pa.array([version for _, version in parsed], pa.string()).take(positions)
    empty = pa.array([""] * len(user_agents), pa.string())
    return {
        "country": empty,
        "host": empty,
        "type": empty,
        "domain": empty,
        "user_agent_tool": tools,
        "user_agent_version": versions,
    }
