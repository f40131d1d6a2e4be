"""Who pulls in the synthetic traffic: the repositories and tags drawn, the clients, the bots.

:class:`References` numbers every (repository, tag) of a catalog with its digests;
:class:`Clients` is the population of pulling clients (class, network, tool, address, user
agent, favourite image, when each appears); :class:`Bots` are the update bots whose lone HEADs
check a tag at a fixed interval. Drawn once per generation from the seeded generator; who of
them is signed in, and as whom, is drawn by :mod:`pullstats.demo.registry_users`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pullstats.demo.arrays import (
    ROW_CLIENT,
    ROW_DIGEST_ID,
    ROW_METHOD,
    ROW_NAME,
    ROW_RECV,
    ROW_TAG_ID,
    ROW_TS,
    ROWS,
    BoolArray,
    IntArray,
)
from pullstats.demo.catalog import SyntheticCatalog
from pullstats.demo.traffic_model import (
    ARCHES,
    BOT_KINDS,
    CLASSES,
    HEAD,
    IPV4_NETWORKS,
    IPV6_NETWORKS,
    NETWORKS,
    TOOL_NAMES,
    TOOL_STEPS,
    TOOLS,
    US,
)


class References:
    """The catalog flattened to references, one per (repository, tag), and their popularity."""

    def __init__(self, catalog: SyntheticCatalog) -> None:
        digests: dict[str, int] = {}
        repository: list[int] = []
        index: list[int] = []
        platform: list[tuple[int, int]] = []
        weights: list[float] = []
        tag_names: list[str] = [""]  # tag id 0: a request by digest
        for r, tags in enumerate(catalog.tags):
            for t, tag in enumerate(tags):
                ids = [digests.setdefault(d, len(digests)) for d in tag.platform_digests]
                index_id = digests.setdefault(tag.index_digest, len(digests))
                ids = ids or [index_id]
                repository.append(r)
                index.append(index_id)
                platform.append((ids[0], ids[min(1, len(ids) - 1)]))
                # Zipf over repositories; within one, the first two tags (latest and the
                # newest release) take most pulls and older ones fall off fast
                weights.append((r + 1) ** -1.1 * (1.0 if t == 0 else 0.8 * t**-1.6))
                tag_names.append(tag.name)
        self.repository = np.array(repository, dtype=np.int64)
        self.index = np.array(index, dtype=np.int64)
        self.platform = np.array(platform, dtype=np.int64).reshape(-1, 2)
        self.single = np.array(
            [not tag.platform_digests for tags in catalog.tags for tag in tags], dtype=np.int64
        )
        self.cumulative = np.cumsum(weights) / sum(weights)
        self.names = pa.array(catalog.repositories, pa.string())
        self.tags = pa.array(tag_names, pa.string())
        self.digests = pa.array(list(digests), pa.string())

    def draw(self, rng: np.random.Generator, n: int) -> IntArray:
        drawn = np.searchsorted(self.cumulative, rng.random(n), side="right")
        return np.minimum(drawn, len(self.cumulative) - 1).astype(np.int64)


class Clients:
    """A fixed population of pulling clients: class, tool, address, user agent, habits."""

    def __init__(self, rng: np.random.Generator, n: int, days: int, refs: References) -> None:
        shares = np.array([c.client_share for c in CLASSES])
        self.klass = rng.choice(len(CLASSES), size=n, p=shares / shares.sum()).astype(np.int64)
        # heavy-tailed activity inside a class; each class's total is its share of sessions
        self.weight = rng.lognormal(0.0, 1.0, n)
        self.tool = np.zeros(n, dtype=np.int64)
        network = np.zeros(n, dtype=np.int64)
        ipv6 = np.zeros(n, dtype=np.bool_)
        self.arch = np.zeros(n, dtype=np.int64)
        for c, spec in enumerate(CLASSES):
            members = np.flatnonzero(self.klass == c)
            if not len(members):
                continue
            self.weight[members] *= spec.session_share / self.weight[members].sum()
            self.tool[members] = _choose(rng, TOOL_NAMES, spec.tools, len(members))
            network[members] = _choose(rng, NETWORKS, spec.networks, len(members))
            ipv6[members] = rng.random(len(members)) < spec.ipv6
            self.arch[members] = rng.random(len(members)) < spec.arm64
        self.ips = _addresses(rng, network, ipv6)
        self.ip = np.arange(n, dtype=np.int64)
        for c, spec in enumerate(CLASSES):
            members = np.flatnonzero(self.klass == c)
            if spec.shared_ip and len(members):
                # NAT: many clients share the addresses of a few gateways
                gateways = members[: max(1, len(members) // 5)]
                behind = members[rng.random(len(members)) < spec.shared_ip]
                self.ip[behind] = gateways[rng.integers(0, len(gateways), len(behind))]
        self.ua = _user_agents(rng, self.tool, self.arch)
        self.favourite = refs.draw(rng, n)
        # about half the clients are there from the start, the rest arrive over the period
        late = rng.random(n) < 0.45
        self.first_day = np.where(late, rng.integers(0, max(days, 1), n), 0).astype(np.int64)
        self.first_day[np.argmax(self.weight)] = 0  # never a day without a client
        burst = np.array([c.burst_mean for c in CLASSES])[self.klass]
        self.requests_per_session = burst * TOOL_STEPS[self.tool]
        #: each client's user (an index into the pool of user names; 0: anonymous)
        self.user = np.zeros(n, dtype=np.int64)


class Bots:
    """Version-check bots: a few addresses HEAD-ing the tags they watch at fixed intervals."""

    def __init__(
        self, rng: np.random.Generator, per_day: float, refs: References, *, numbered_from: int
    ) -> None:
        """Bots checking about ``per_day`` times a day in all, numbered from ``numbered_from``."""
        kinds: list[int] = []
        periods: list[int] = []
        watches: list[int] = []
        total = 0.0
        shares = np.array([kind.share for kind in BOT_KINDS])
        period_cdfs = [
            np.cumsum(kind.period_weights) / sum(kind.period_weights) for kind in BOT_KINDS
        ]
        # draw candidates until their checks reach the target; skipping one that would
        # overshoot keeps a small demo (a few hundred requests a day) close to the share
        misses = 0
        while total < 0.95 * per_day and misses < 2_048:
            kind = rng.choice(len(BOT_KINDS), size=256, p=shares / shares.sum())
            pick = rng.random(256)
            count = rng.integers(1, 5, 256)
            for k, u, m in zip(kind.tolist(), pick.tolist(), count.tolist(), strict=True):
                spec = BOT_KINDS[k]
                choice = int(np.searchsorted(period_cdfs[k], u, side="right"))
                period = spec.periods_s[min(choice, len(spec.periods_s) - 1)]
                rate = m * 86_400 / period
                if total + rate > 1.05 * per_day:
                    misses += 1
                    continue
                misses = 0
                kinds.append(k)
                periods.append(period)
                watches.append(m)
                total += rate
        self.per_day = total
        n = len(kinds)
        kind_array = np.array(kinds, dtype=np.int64)
        network = np.zeros(n, dtype=np.int64)
        tool = np.zeros(n, dtype=np.int64)
        for k, spec in enumerate(BOT_KINDS):
            members = np.flatnonzero(kind_array == k)
            network[members] = _choose(rng, NETWORKS, spec.networks, len(members))
            tool[members] = TOOL_NAMES.index(spec.tool)
        self.ips = _addresses(rng, network, rng.random(n) < 0.1)
        self.ua = _user_agents(rng, tool, np.zeros(n, dtype=np.int64))
        period_us = np.array(periods, dtype=np.int64) * US
        phase = (rng.random(n) * period_us).astype(np.int64)
        count = np.array(watches, dtype=np.int64)
        owner = np.repeat(np.arange(n), count)
        # one check walks the bot's watched images a few hundred milliseconds apart
        step = rng.integers(50_000, 600_000, len(owner))
        first = np.cumsum(count) - count
        since = np.cumsum(step) - np.repeat(np.cumsum(step)[first], count)
        self.base = phase[owner] + since
        self.period = period_us[owner]
        self.ref = refs.draw(rng, len(owner))
        self.sender = owner + numbered_from  # of each watched image's checks
        self.kind = kind_array
        #: each bot's user (an index into the pool of user names; 0: anonymous)
        self.user = np.zeros(n, dtype=np.int64)

    def checks(self, rng: np.random.Generator, lo: int, hi: int, refs: References) -> IntArray:
        """Rows of the checks due in [lo, hi)."""
        first = -((self.base - lo) // self.period)  # ceil((lo - base) / period)
        count = -((self.base - hi) // self.period) - first
        watch = np.repeat(np.arange(len(count)), count)
        k = (
            np.repeat(first, count)
            + np.arange(len(watch))
            - np.repeat(np.cumsum(count) - count, count)
        )
        out = np.empty((ROWS, len(watch)), dtype=np.int64)
        out[ROW_TS] = (
            self.base[watch] + k * self.period[watch] + rng.integers(0, 250_000, len(watch))
        )
        out[ROW_RECV] = 0
        out[ROW_METHOD] = HEAD
        ref = self.ref[watch]
        out[ROW_NAME] = refs.repository[ref]
        out[ROW_TAG_ID] = ref + 1
        out[ROW_DIGEST_ID] = refs.index[ref]
        out[ROW_CLIENT] = self.sender[watch]
        return out


def _choose(
    rng: np.random.Generator, names: Sequence[str], weights: Mapping[str, float], n: int
) -> IntArray:
    """Indexes into ``names``, drawn by ``weights``."""
    keys = list(weights)
    p = np.array([weights[key] for key in keys])
    drawn = rng.choice(len(keys), size=n, p=p / p.sum())
    return np.array([names.index(key) for key in keys], dtype=np.int64)[drawn]


@functools.cache
def user_agent_pool() -> tuple[pa.Array, IntArray]:
    """Every user agent of every tool and architecture, and where each tool's start."""
    texts: list[str] = []
    starts: list[int] = []
    for tool in TOOLS.values():
        starts.append(len(texts))
        for template in tool.user_agents:
            texts.extend(template.replace("{arch}", arch) for arch in ARCHES)
    return pa.array(texts, pa.string()), np.array(starts, dtype=np.int64)


def _user_agents(rng: np.random.Generator, tool: IntArray, arch: IntArray) -> IntArray:
    """A user agent id per client: its tool, a version (newer ones more common), its arch."""
    _, starts = user_agent_pool()
    variant = np.zeros(len(tool), dtype=np.int64)
    for t, spec in enumerate(TOOLS.values()):
        members = np.flatnonzero(tool == t)
        p = 1.0 / np.arange(1, len(spec.user_agents) + 1)
        variant[members] = rng.choice(len(p), size=len(members), p=p / p.sum())
    return starts[tool] + variant * len(ARCHES) + arch


@functools.cache
def _text_pools() -> tuple[pa.Array, pa.Array]:
    decimal = pa.array([str(i) for i in range(256)], pa.string())
    hextet = pa.array([f"{i:x}" for i in range(65536)], pa.string())
    return decimal, hextet


def _addresses(rng: np.random.Generator, network: IntArray, ipv6: BoolArray) -> pa.Array:
    """One public address per entry, inside a block of its network kind."""
    decimal, hextet = _text_pools()
    v4, v6 = np.flatnonzero(~ipv6), np.flatnonzero(ipv6)
    octets = np.zeros((len(v4), 4), dtype=np.int64)
    groups = np.zeros((len(v6), 8), dtype=np.int64)
    for k, kind in enumerate(NETWORKS):
        for rows, blocks, table in (
            (v4, IPV4_NETWORKS[kind], octets),
            (v6, IPV6_NETWORKS[kind], groups),
        ):
            members = np.flatnonzero(network[rows] == k)
            table[members, :2] = np.array(blocks)[rng.integers(0, len(blocks), len(members))]
    octets[:, 2] = rng.integers(0, 256, len(v4))
    octets[:, 3] = rng.integers(1, 255, len(v4))  # no network or broadcast-looking hosts
    # no zero hextet, so the text is already canonical (RFC 5952 has nothing to compress)
    groups[:, 2:] = rng.integers(1, 65536, (len(v6), 6))
    text = pa.concat_arrays(
        [
            pc.binary_join_element_wise(*(decimal.take(octets[:, j]) for j in range(4)), "."),
            pc.binary_join_element_wise(*(hextet.take(groups[:, j]) for j in range(8)), ":"),
        ]
    )
    position = np.empty(len(network), dtype=np.int64)
    position[v4] = np.arange(len(v4))
    position[v6] = len(v4) + np.arange(len(v6))
    return text.take(position)
