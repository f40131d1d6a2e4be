"""Synthetic registry traffic: a seeded, realistic history of manifest requests as spool rows.

Responsible for the data behind ``pullstats demo``, tests and benchmarks: successful manifest
requests as a registry's notifications report them, yielded as Arrow tables with exactly
:data:`~pullstats.ingest.records.SPOOL_SCHEMA`, and rendered as spool lines. It models what a
registry sees (DESIGN.md §3):

- who pulls: desktops (docker, podman), Kubernetes nodes (containerd, cri-o), CI farms behind
  a few NAT addresses pulling the same tag in bursts (docker, buildkit, kaniko), scripts and
  tools (crane, skopeo, curl, Go-http-client), and update bots (Watchtower, Renovate) that only
  HEAD a tag at a fixed interval; cloud, ISP and business addresses, IPv4 mostly;
- how each client spells a pull: HEAD by tag, GET of the index by digest, GET of the platform
  manifest (docker, containerd); GET by tag then GET of the platform manifest
  (containers/image, go-containerregistry); pulls by digest; lone HEADs (version checks);
- when: Zipf-like popularity of repositories and tags, a daily and a weekly cycle, mild growth.

The same arguments always give the same tables. Work is vectorised with NumPy and Arrow, and a
day is produced in slices so that a busy day never sits whole in memory.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from pullstats.ingest.errors import UnparseableRequest
from pullstats.ingest.notifications import parse_repository_name
from pullstats.ingest.records import SPOOL_SCHEMA

__all__ = [
    "DEMO_CATALOG",
    "MAX_CHUNK_ROWS",
    "SyntheticCatalog",
    "SyntheticTag",
    "catalog_from_tags",
    "generate_requests",
    "to_spool_lines",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ByteArray = npt.NDArray[np.uint8]

#: Most rows one yielded table holds.
MAX_CHUNK_ROWS = 200_000

# ---------------------------------------------------------------------------------------------
# The catalog

_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class SyntheticTag:
    """A tag and the manifests it points to.

    ``index_digest`` is the image index of a multi-arch image, or the image manifest itself
    when ``platform_digests`` is empty (a single-arch image). ``platform_digests`` are the
    per-platform manifests, amd64 first then arm64.
    """

    name: str
    index_digest: str
    platform_digests: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyntheticCatalog:
    """What the generator pulls from.

    ``repositories`` are full names (``acme/api``, ``acme/tools/cli``, ``nginx``), most popular
    first: popularity falls off Zipf-like with the rank. ``tags[i]`` are the tags of
    ``repositories[i]``, most popular first.
    """

    repositories: tuple[str, ...]
    tags: tuple[tuple[SyntheticTag, ...], ...]

    def __post_init__(self) -> None:
        if not self.repositories:
            raise ValueError("a catalog needs at least one repository")
        if len(self.tags) != len(self.repositories):
            raise ValueError("tags must hold one tuple of tags per repository")
        if len(set(self.repositories)) != len(self.repositories):
            raise ValueError("repository names must be unique")
        for name, tags in zip(self.repositories, self.tags, strict=True):
            try:
                parse_repository_name(name)
            except UnparseableRequest as error:
                raise ValueError(str(error)) from None
            if not tags:
                raise ValueError(f"repository {name!r} has no tags")
            if len({tag.name for tag in tags}) != len(tags):
                raise ValueError(f"repository {name!r} lists a tag twice")
            for tag in tags:
                if not _TAG.match(tag.name):
                    raise ValueError(f"invalid tag {tag.name!r} in {name!r}")
                for digest in (tag.index_digest, *tag.platform_digests):
                    if not _DIGEST.match(digest):
                        raise ValueError(f"invalid digest {digest!r} in {name}:{tag.name}")

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The namespaces of the repositories, sorted (``library`` for one-component names)."""
        return tuple(
            sorted(
                {name.split("/", 1)[0] if "/" in name else "library" for name in self.repositories}
            )
        )


def catalog_from_tags(tags: Mapping[str, Sequence[str]], *, platforms: int = 2) -> SyntheticCatalog:
    """A catalog from tag names, with digests derived from the names (stable across runs).

    Repositories and their tags are given most popular first. ``latest`` points at the same
    manifests as the first other tag (the newest release), as it does on real registries.
    ``platforms=0`` makes single-arch images.
    """
    if platforms < 0:
        raise ValueError("platforms must be >= 0")
    built: list[tuple[SyntheticTag, ...]] = []
    for repository, names in tags.items():
        releases = [name for name in names if name != "latest"]
        row: list[SyntheticTag] = []
        for name in names:
            target = releases[0] if name == "latest" and releases else name
            row.append(
                SyntheticTag(
                    name=name,
                    index_digest=_digest(repository, target, "index"),
                    platform_digests=tuple(
                        _digest(repository, target, f"platform{k}") for k in range(platforms)
                    ),
                )
            )
        built.append(tuple(row))
    return SyntheticCatalog(repositories=tuple(tags), tags=tuple(built))


def _digest(repository: str, tag: str, part: str) -> str:
    return "sha256:" + hashlib.sha256(f"{repository}:{tag}:{part}".encode()).hexdigest()


#: Three namespaces, 4-6 repositories each (one nested), several tags each, all multi-arch
#: (an index plus amd64 and arm64 manifests per tag). Listed in popularity order.
DEMO_CATALOG = catalog_from_tags(
    {
        "acme/api": ["latest", "3.2.1", "3.2.0", "3.1.4", "3.0.0", "2.9.7"],
        "globex/gateway": ["latest", "1.14.2", "1.14.1", "1.13.0", "1.12.5"],
        "acme/web": ["latest", "3.2.1", "3.2.0", "3.1.4", "3.0.0"],
        "initech/tps-reports": ["latest", "4.0.2", "4.0.1", "3.9.0", "3.8.2"],
        "acme/worker": ["latest", "3.2.1", "3.2.0", "3.1.4"],
        "globex/billing": ["latest", "2.7.0", "2.6.3", "2.6.2", "2.5.0"],
        "acme/tools/cli": ["latest", "0.9.3", "0.9.2", "0.8.0"],
        "globex/search": ["latest", "8.15.1", "8.15.0", "8.14.3", "7.17.24"],
        "initech/printer-daemon": ["latest", "1.0.4", "1.0.3", "0.9.9"],
        "acme/proxy": ["latest", "1.27.2", "1.27.2-alpine", "1.26.2", "1.26.2-alpine"],
        "globex/ml-serving": ["latest", "2.4.0", "2.4.0-cpu", "2.3.1", "2.3.1-cpu"],
        "initech/redstapler": ["latest", "5.1.0", "5.0.2", "4.8.1"],
        "acme/db-migrate": ["latest", "1.8.0", "1.7.2", "1.7.1"],
        "globex/agent": ["latest", "0.31.0", "0.30.2", "0.30.1", "0.29.0"],
        "initech/portal": ["latest", "2024.10.1", "2024.9.3", "2024.9.2"],
    }
)

# ---------------------------------------------------------------------------------------------
# How clients spell a pull

_GET, _HEAD = 0, 1
_METHODS = ("GET", "HEAD")

# One pull as a client spells it: (method, by tag?, platform manifest?) per request; the rest
# are by digest of the index (or of the single-arch image).
_PATTERNS: tuple[tuple[tuple[int, bool, bool], ...], ...] = (
    # docker and containerd by tag: resolve with HEAD, then fetch the index and a platform
    ((_HEAD, True, False), (_GET, False, False), (_GET, False, True)),
    # containers/image and go-containerregistry by tag: GET the tag, then a platform manifest
    ((_GET, True, False), (_GET, False, True)),
    # a manifest inspection: skopeo inspect --raw, crane manifest, curl
    ((_GET, True, False),),
    # containerd by digest: HEAD, then GET of the same digest, then a platform manifest
    ((_HEAD, False, False), (_GET, False, False), (_GET, False, True)),
    # docker and containers/image by digest
    ((_GET, False, False), (_GET, False, True)),
    # pinned to a platform manifest's digest
    ((_GET, False, True),),
    # version check: does the tag still point at the digest I run?
    ((_HEAD, True, False),),
)


def _pattern_table(column: int) -> IntArray:
    table = np.zeros((len(_PATTERNS), 3), dtype=np.int64)
    for p, steps in enumerate(_PATTERNS):
        for s, step in enumerate(steps):
            table[p, s] = int(step[column])
    return table


_STEP_COUNT = np.array([len(steps) for steps in _PATTERNS], dtype=np.int64)
_STEP_METHOD = _pattern_table(0)
_STEP_BY_TAG = _pattern_table(1).astype(np.bool_)
_STEP_PLATFORM = _pattern_table(2).astype(np.bool_)
# A single-arch image has no platform manifest to fetch after its image manifest.
_DROP_IF_SINGLE = np.array([len(steps) > 1 and steps[-1][2] for steps in _PATTERNS], dtype=np.int64)


@dataclass(frozen=True)
class _Tool:
    user_agents: tuple[str, ...]  # most common first; "{arch}" is the client's architecture
    patterns: tuple[float, ...]  # probability of each of _PATTERNS per pull


_ARCHES = ("amd64", "arm64")
_CONTAINERS_IMAGE = " (github.com/containers/image)"

_TOOLS: dict[str, _Tool] = {
    "docker": _Tool(
        (
            "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0-48-generic os/linux "
            "arch/{arch} UpstreamClient(Docker-Client/27.3.1 \\(linux\\))",
            "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.10.11-linuxkit os/linux "
            "arch/{arch} UpstreamClient(Docker-Client/27.3.1 \\(darwin\\))",
            "docker/26.1.4 go/go1.21.11 git-commit/de5c9cf kernel/5.15.0-119-generic os/linux "
            "arch/{arch} UpstreamClient(Docker-Client/26.1.4 \\(linux\\))",
            "docker/27.2.0 go/go1.21.13 git-commit/3ab5c7d "
            "kernel/5.15.153.1-microsoft-standard-WSL2 os/linux arch/{arch} "
            "UpstreamClient(Docker-Client/27.2.0 \\(windows\\))",
            "docker/24.0.7 go/go1.20.10 git-commit/311b9ff kernel/6.1.0-26-cloud-{arch} os/linux "
            "arch/{arch} UpstreamClient(Docker-Client/24.0.7 \\(linux\\))",
        ),
        (0.84, 0, 0, 0.03, 0.06, 0.01, 0.06),
    ),
    "containerd": _Tool(
        (
            "containerd/1.7.22",
            "containerd/1.7.20",
            "containerd/1.6.33",
            "containerd/2.0.0",
            "containerd/1.7.13",
        ),
        (0.62, 0, 0, 0.28, 0, 0.04, 0.06),
    ),
    # a cache hit during a build only resolves the tag: a lone HEAD
    "buildkit": _Tool(
        ("buildkit/v0.17.0", "buildkit/v0.16.0", "buildkit/v0.13.2"),
        (0.76, 0, 0, 0.04, 0, 0, 0.20),
    ),
    "cri-o": _Tool(
        (
            "cri-o/1.31.1 go/go1.22.5 os/linux arch/{arch}",
            "cri-o/1.30.4 go/go1.22.5 os/linux arch/{arch}",
            "cri-o/1.29.6 go/go1.21.9 os/linux arch/{arch}",
        ),
        (0, 0.66, 0, 0, 0.30, 0.04, 0),
    ),
    # podman builds that set no agent of their own send containers/image's default one; skopeo
    # always sets "skopeo/<version>"
    "podman": _Tool(
        ("containers/5.32.2" + _CONTAINERS_IMAGE, "containers/5.31.1" + _CONTAINERS_IMAGE),
        (0, 0.90, 0.03, 0, 0.06, 0.01, 0),
    ),
    "skopeo": _Tool(
        ("skopeo/1.16.1", "skopeo/1.14.4"),
        (0, 0.50, 0.35, 0, 0.08, 0.07, 0),
    ),
    "crane": _Tool(
        (
            "crane/v0.20.2 go-containerregistry/v0.20.2",
            "crane/v0.19.1 go-containerregistry/v0.19.1",
        ),
        (0, 0.35, 0.25, 0, 0.05, 0.05, 0.30),
    ),
    "kaniko": _Tool(
        ("kaniko/v1.23.2 go-containerregistry/v0.20.2", "kaniko/v1.9.2"),
        (0, 0.94, 0, 0, 0.06, 0, 0),
    ),
    "go-http": _Tool(("Go-http-client/1.1",), (0, 0, 0.50, 0, 0, 0.10, 0.40)),
    "curl": _Tool(("curl/8.9.1", "curl/8.5.0", "curl/7.81.0"), (0, 0, 0.60, 0, 0, 0.10, 0.30)),
    "watchtower": _Tool(("Watchtower/v1.7.1", "Watchtower/v1.5.3"), (0, 0, 0, 0, 0, 0, 1.0)),
    "renovate": _Tool(
        (
            "RenovateBot/38.142.7 (https://github.com/renovatebot/renovate)",
            "RenovateBot/37.440.7 (https://github.com/renovatebot/renovate)",
        ),
        (0, 0, 0, 0, 0, 0, 1.0),
    ),
}
_TOOL_NAMES = tuple(_TOOLS)
_TOOL_CUM = np.array([np.cumsum(tool.patterns) for tool in _TOOLS.values()], dtype=np.float64)
_TOOL_CUM /= _TOOL_CUM[:, -1:]
_TOOL_STEPS = np.array(
    [np.dot(tool.patterns, _STEP_COUNT) / sum(tool.patterns) for tool in _TOOLS.values()]
)

# ---------------------------------------------------------------------------------------------
# Who pulls

_NETWORKS = ("cloud", "isp", "business")

# /16s inside public ranges: AWS, Google Cloud, Azure, DigitalOcean, Hetzner, OVH (cloud);
# Comcast, AT&T, Verizon, Deutsche Telekom, Orange, BT, NTT, Jio, Vivo (isp); universities and
# companies on their own blocks (business).
_IPV4_NETWORKS: dict[str, tuple[tuple[int, int], ...]] = {
    "cloud": (
        (3, 120), (18, 196), (34, 192), (52, 14), (54, 86), (13, 48), (34, 66), (35, 187),
        (34, 118), (20, 42), (40, 112), (52, 174), (159, 89), (167, 172), (95, 216),
        (116, 203), (51, 77),
    ),
    "isp": (
        (73, 162), (98, 207), (99, 105), (71, 178), (79, 206), (93, 192), (90, 11), (86, 145),
        (126, 77), (49, 36), (177, 92), (24, 6),
    ),
    "business": ((128, 112), (141, 20), (193, 170), (194, 25), (199, 87), (204, 14), (62, 96)),
}  # fmt: skip
_IPV6_NETWORKS: dict[str, tuple[tuple[int, int], ...]] = {
    "cloud": (
        (0x2600, 0x1F18), (0x2A05, 0xD014), (0x2600, 0x1900), (0x2A01, 0x4F8), (0x2604, 0xA880),
        (0x2001, 0x41D0),
    ),
    "isp": ((0x2601, 0x1C0), (0x2003, 0xC1), (0x2A01, 0xCB00), (0x2A01, 0xE0A), (0x2A00, 0x23C5)),
    "business": ((0x2001, 0x67C), (0x2A02, 0x2E0), (0x2620, 0x10C)),
}  # fmt: skip


@dataclass(frozen=True)
class _ClientClass:
    client_share: float  # of the client population
    session_share: float  # of the (non-bot) sessions
    tools: Mapping[str, float]
    networks: Mapping[str, float]
    ipv6: float
    arm64: float
    burst_mean: float  # pulls per session: a CI pipeline pulls one tag in several jobs
    favourite: float  # how often a session pulls the client's own image, not a random one
    shared_ip: float  # how often a client sits behind another one's address (NAT)


_CLASSES = (
    # desktops and laptops at home and in offices
    _ClientClass(
        0.70, 0.30, {"docker": 0.82, "podman": 0.12, "containerd": 0.06},
        {"isp": 0.75, "business": 0.25}, ipv6=0.12, arm64=0.25, burst_mean=1.0, favourite=0.5,
        shared_ip=0.0,
    ),
    # Kubernetes nodes, many behind a cloud NAT gateway
    _ClientClass(
        0.17, 0.30, {"containerd": 0.78, "cri-o": 0.22}, {"cloud": 0.85, "business": 0.15},
        ipv6=0.06, arm64=0.15, burst_mean=1.0, favourite=0.8, shared_ip=0.4,
    ),
    # CI farms: many jobs behind few addresses, pulling the same tag within seconds
    _ClientClass(
        0.03, 0.28, {"docker": 0.5, "buildkit": 0.35, "kaniko": 0.10, "podman": 0.05},
        {"cloud": 0.9, "business": 0.1}, ipv6=0.03, arm64=0.08, burst_mean=3.0, favourite=0.7,
        shared_ip=0.5,
    ),
    # scripts and tools
    _ClientClass(
        0.10, 0.12, {"crane": 0.3, "skopeo": 0.3, "go-http": 0.2, "curl": 0.2},
        {"cloud": 0.5, "business": 0.35, "isp": 0.15}, ipv6=0.08, arm64=0.1, burst_mean=1.0,
        favourite=0.5, shared_ip=0.0,
    ),
)  # fmt: skip
_FAVOURITE = np.array([c.favourite for c in _CLASSES])
_BURST_P = np.array([1.0 / c.burst_mean for c in _CLASSES])
_BURST_GAP_US = 12e6  # mean gap between the jobs of one CI burst: often under the 5 s window


@dataclass(frozen=True)
class _BotKind:
    share: float  # of the bots
    tool: str
    networks: Mapping[str, float]
    periods_s: tuple[int, ...]  # all divide a day, so every day holds the same checks
    period_weights: tuple[float, ...]


_BOT_KINDS = (
    # Watchtower polls every 24 h by default; people shorten it
    _BotKind(0.55, "watchtower", {"isp": 0.8, "business": 0.2}, (300, 3600, 21600, 86400),
             (0.1, 0.3, 0.2, 0.4)),
    _BotKind(0.30, "renovate", {"cloud": 0.9, "business": 0.1}, (3600, 14400, 86400),
             (0.5, 0.3, 0.2)),
    _BotKind(0.15, "go-http", {"cloud": 0.6, "business": 0.4}, (300, 900, 3600),
             (0.3, 0.3, 0.4)),
)  # fmt: skip
_BOT_SHARE = 0.06  # of all requests: version-check bots' lone HEADs

# ---------------------------------------------------------------------------------------------
# When

_US = 1_000_000
_DAY_US = 86_400 * _US
_WEEKDAY = np.array([1.0, 1.03, 1.04, 1.02, 0.94, 0.58, 0.52])  # Monday first: work drives pulls
_GROWTH_PER_DAY = 0.0007  # about +29 % a year
# UTC hours: European and American working days overlap in the afternoon
_HOURLY = np.array(
    [0.45, 0.40, 0.38, 0.38, 0.42, 0.55, 0.75, 0.95, 1.15, 1.30, 1.35, 1.35,
     1.35, 1.40, 1.50, 1.55, 1.50, 1.35, 1.15, 0.95, 0.80, 0.70, 0.60, 0.50]
)  # fmt: skip
_HOUR_CDF = np.concatenate([[0.0], np.cumsum(_HOURLY) / _HOURLY.sum()])
_HOUR_EDGES_US = np.arange(25, dtype=np.float64) * 3600 * _US

_SLICE_ROWS = 40_000  # expected rows generated at a time
_FLUSH_ROWS = 100_000  # finished rows that make a table

# rows are kept as one int64 matrix while they are generated
_TS, _RECV, _METHOD, _NAME, _TAG_ID, _DIGEST_ID, _IP, _UA = range(8)


# ---------------------------------------------------------------------------------------------
# Generation


def generate_requests(
    catalog: SyntheticCatalog,
    *,
    start: dt.date,
    days: int,
    requests_per_day: int,
    seed: int,
    received_us: int | None = None,
) -> Iterator[pa.Table]:
    """Yield the requests of ``days`` UTC days from ``start``, as SPOOL_SCHEMA tables.

    Each table holds rows of a single day, ordered by ``ts``, at most :data:`MAX_CHUNK_ROWS`
    of them (a busy day comes as several tables); empty tables are not yielded.
    ``requests_per_day`` is the average over the period. ``recv`` is ``received_us`` when given,
    else the request time plus a delivery delay. A pull still in flight at the end of the
    period is cut there. The same arguments give the same tables.
    """
    if isinstance(start, dt.datetime):
        raise TypeError("start must be a date, not a datetime")
    if days < 0 or requests_per_day < 0:
        raise ValueError("days and requests_per_day must be >= 0")
    return _generate(catalog, start, days, requests_per_day, seed, received_us)


def _generate(
    catalog: SyntheticCatalog,
    start: dt.date,
    days: int,
    requests_per_day: int,
    seed: int,
    received_us: int | None,
) -> Iterator[pa.Table]:
    rng = np.random.default_rng(seed)
    refs = _References(catalog)
    clients = _Clients(rng, int(np.clip(requests_per_day * 0.8, 200, 500_000)), days, refs)
    bots = _Bots(rng, _BOT_SHARE * requests_per_day, refs, ip_offset=len(clients.ips))
    pools = _Pools(refs, pa.concat_arrays([clients.ips, bots.ips]), received_us)
    pulls_per_day = max(0.0, requests_per_day - bots.per_day)
    factors = _day_factors(start, days)
    first_us = (start - dt.date(1970, 1, 1)).days * _DAY_US
    rows = np.empty((8, 0), dtype=np.int64)
    uids = np.empty((0, 16), dtype=np.uint8)
    for day in range(days):
        day_us = first_us + day * _DAY_US
        weights = np.where(clients.first_day <= day, clients.weight, 0.0)
        cumulative = np.cumsum(weights)
        per_session = float(np.dot(weights, clients.requests_per_session)) / cumulative[-1]
        sessions = pulls_per_day * factors[day] / per_session
        slices = max(1, math.ceil((pulls_per_day * factors[day] + bots.per_day) / _SLICE_ROWS))
        quantiles = np.linspace(0.0, 1.0, slices + 1)
        edges = day_us + np.interp(quantiles, _HOUR_CDF, _HOUR_EDGES_US).astype(np.int64)
        edges[-1] = day_us + _DAY_US
        for i in range(slices):
            lo, hi = int(edges[i]), int(edges[i + 1])
            count = int(rng.poisson(sessions / slices))
            quantile = rng.uniform(quantiles[i], quantiles[i + 1], count)
            session_us = day_us + np.interp(quantile, _HOUR_CDF, _HOUR_EDGES_US).astype(np.int64)
            new = np.concatenate(
                [
                    _pulls(rng, np.clip(session_us, lo, hi - 1), cumulative, clients, refs),
                    bots.checks(rng, lo, hi, refs),
                ],
                axis=1,
            )
            if received_us is None:
                new[_RECV] = new[_TS] + _delivery_delays(rng, new.shape[1])
            rows = np.concatenate([rows, new], axis=1)
            uids = np.concatenate([uids, _random_uuids(rng, new.shape[1])])
            # nothing generated later starts before `hi`: rows before it are final
            done = rows[_TS] < hi
            if i == slices - 1 or np.count_nonzero(done) >= _FLUSH_ROWS:
                order = np.flatnonzero(done)
                order = order[np.argsort(rows[_TS, order], kind="stable")]
                for part in range(0, len(order), MAX_CHUNK_ROWS):
                    chunk = order[part : part + MAX_CHUNK_ROWS]
                    yield pools.table(rows[:, chunk], uids[chunk])
                rows, uids = rows[:, ~done], uids[~done]


def _pulls(
    rng: np.random.Generator,
    session_us: IntArray,
    cumulative: FloatArray,
    clients: _Clients,
    refs: _References,
) -> IntArray:
    """Rows for sessions starting at ``session_us``: who pulls what, request by request."""
    n = len(session_us)
    client = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
    client = np.minimum(client, len(cumulative) - 1)
    klass = clients.klass[client]
    ref = np.where(rng.random(n) < _FAVOURITE[klass], clients.favourite[client], refs.draw(rng, n))
    # a CI session is a burst of jobs pulling the same image, seconds apart
    burst = rng.geometric(_BURST_P[klass]).astype(np.int64)
    of_session = np.repeat(np.arange(n), burst)
    gaps = rng.exponential(_BURST_GAP_US, len(of_session))
    first = np.cumsum(burst) - burst
    gaps[first] = 0.0
    since = np.cumsum(gaps)
    pull_us = session_us[of_session] + (since - np.repeat(since[first], burst)).astype(np.int64)
    pull_client = client[of_session]
    pull_ref = ref[of_session]
    tool = clients.tool[pull_client]
    pattern = (_TOOL_CUM[tool] <= rng.random(len(tool))[:, None]).sum(axis=1)
    steps = _STEP_COUNT[pattern] - _DROP_IF_SINGLE[pattern] * refs.single[pull_ref]
    # index → platform manifest within ~0.03-1.4 s, platform after a further ~0.015-0.55 s
    to_second = np.clip(rng.lognormal(np.log(0.25e6), 0.7, len(tool)), 30e3, 1.4e6)
    to_third = np.clip(rng.lognormal(np.log(0.12e6), 0.7, len(tool)), 15e3, 0.55e6)
    of_pull = np.repeat(np.arange(len(tool)), steps)
    step = np.arange(len(of_pull)) - np.repeat(np.cumsum(steps) - steps, steps)
    offset = np.where(step == 0, 0.0, to_second[of_pull]) + np.where(
        step == 2, to_third[of_pull], 0.0
    )
    request_pattern = pattern[of_pull]
    request_ref = pull_ref[of_pull]
    request_client = pull_client[of_pull]
    arch = clients.arch[request_client]
    platform = _STEP_PLATFORM[request_pattern, step]
    out = np.empty((8, len(of_pull)), dtype=np.int64)
    out[_TS] = pull_us[of_pull] + offset.astype(np.int64)
    out[_RECV] = 0
    out[_METHOD] = _STEP_METHOD[request_pattern, step]
    out[_NAME] = refs.repository[request_ref]
    out[_TAG_ID] = np.where(_STEP_BY_TAG[request_pattern, step], request_ref + 1, 0)
    out[_DIGEST_ID] = np.where(platform, refs.platform[request_ref, arch], refs.index[request_ref])
    out[_IP] = clients.ip[request_client]
    out[_UA] = clients.ua[request_client]
    return out


def _day_factors(start: dt.date, days: int) -> FloatArray:
    """Each day's share of the traffic, averaging 1: the weekly cycle times steady growth."""
    index = np.arange(days)
    factors: FloatArray = _WEEKDAY[(start.weekday() + index) % 7] * np.exp(_GROWTH_PER_DAY * index)
    return factors / factors.mean() if days else factors


def _random_uuids(rng: np.random.Generator, n: int) -> ByteArray:
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw


def _delivery_delays(rng: np.random.Generator, n: int) -> IntArray:
    # registries queue notifications and post them in batches
    return np.clip(rng.lognormal(np.log(0.15e6), 0.9, n), 5e3, 10e6).astype(np.int64)


class _References:
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


class _Clients:
    """A fixed population of pulling clients: class, tool, address, user agent, habits."""

    def __init__(self, rng: np.random.Generator, n: int, days: int, refs: _References) -> None:
        shares = np.array([c.client_share for c in _CLASSES])
        self.klass = rng.choice(len(_CLASSES), size=n, p=shares / shares.sum()).astype(np.int64)
        # heavy-tailed activity inside a class; each class's total is its share of sessions
        self.weight = rng.lognormal(0.0, 1.0, n)
        self.tool = np.zeros(n, dtype=np.int64)
        network = np.zeros(n, dtype=np.int64)
        ipv6 = np.zeros(n, dtype=np.bool_)
        self.arch = np.zeros(n, dtype=np.int64)
        for c, spec in enumerate(_CLASSES):
            members = np.flatnonzero(self.klass == c)
            if not len(members):
                continue
            self.weight[members] *= spec.session_share / self.weight[members].sum()
            self.tool[members] = _choose(rng, _TOOL_NAMES, spec.tools, len(members))
            network[members] = _choose(rng, _NETWORKS, spec.networks, len(members))
            ipv6[members] = rng.random(len(members)) < spec.ipv6
            self.arch[members] = rng.random(len(members)) < spec.arm64
        self.ips = _addresses(rng, network, ipv6)
        self.ip = np.arange(n, dtype=np.int64)
        for c, spec in enumerate(_CLASSES):
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
        burst = np.array([c.burst_mean for c in _CLASSES])[self.klass]
        self.requests_per_session = burst * _TOOL_STEPS[self.tool]


class _Bots:
    """Version-check bots: a few addresses HEAD-ing the tags they watch at fixed intervals."""

    def __init__(
        self, rng: np.random.Generator, per_day: float, refs: _References, *, ip_offset: int
    ) -> None:
        kinds: list[int] = []
        periods: list[int] = []
        watches: list[int] = []
        total = 0.0
        shares = np.array([kind.share for kind in _BOT_KINDS])
        period_cdfs = [
            np.cumsum(kind.period_weights) / sum(kind.period_weights) for kind in _BOT_KINDS
        ]
        # draw candidates until their checks reach the target; skipping one that would
        # overshoot keeps a small demo (a few hundred requests a day) close to the share
        misses = 0
        while total < 0.95 * per_day and misses < 2_048:
            kind = rng.choice(len(_BOT_KINDS), size=256, p=shares / shares.sum())
            pick = rng.random(256)
            count = rng.integers(1, 5, 256)
            for k, u, m in zip(kind.tolist(), pick.tolist(), count.tolist(), strict=True):
                spec = _BOT_KINDS[k]
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
        for k, spec in enumerate(_BOT_KINDS):
            members = np.flatnonzero(kind_array == k)
            network[members] = _choose(rng, _NETWORKS, spec.networks, len(members))
            tool[members] = _TOOL_NAMES.index(spec.tool)
        self.ips = _addresses(rng, network, rng.random(n) < 0.1)
        ua = _user_agents(rng, tool, np.zeros(n, dtype=np.int64))
        period_us = np.array(periods, dtype=np.int64) * _US
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
        self.ip = owner + ip_offset
        self.ua = ua[owner]

    def checks(self, rng: np.random.Generator, lo: int, hi: int, refs: _References) -> IntArray:
        """Rows of the checks due in [lo, hi)."""
        first = -((self.base - lo) // self.period)  # ceil((lo - base) / period)
        count = -((self.base - hi) // self.period) - first
        watch = np.repeat(np.arange(len(count)), count)
        k = (
            np.repeat(first, count)
            + np.arange(len(watch))
            - np.repeat(np.cumsum(count) - count, count)
        )
        out = np.empty((8, len(watch)), dtype=np.int64)
        out[_TS] = self.base[watch] + k * self.period[watch] + rng.integers(0, 250_000, len(watch))
        out[_RECV] = 0
        out[_METHOD] = _HEAD
        ref = self.ref[watch]
        out[_NAME] = refs.repository[ref]
        out[_TAG_ID] = ref + 1
        out[_DIGEST_ID] = refs.index[ref]
        out[_IP] = self.ip[watch]
        out[_UA] = self.ua[watch]
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
def _user_agent_pool() -> tuple[pa.Array, IntArray]:
    """Every user agent of every tool and architecture, and where each tool's start."""
    texts: list[str] = []
    starts: list[int] = []
    for tool in _TOOLS.values():
        starts.append(len(texts))
        for template in tool.user_agents:
            texts.extend(template.replace("{arch}", arch) for arch in _ARCHES)
    return pa.array(texts, pa.string()), np.array(starts, dtype=np.int64)


def _user_agents(rng: np.random.Generator, tool: IntArray, arch: IntArray) -> IntArray:
    """A user agent id per client: its tool, a version (newer ones more common), its arch."""
    _, starts = _user_agent_pool()
    variant = np.zeros(len(tool), dtype=np.int64)
    for t, spec in enumerate(_TOOLS.values()):
        members = np.flatnonzero(tool == t)
        p = 1.0 / np.arange(1, len(spec.user_agents) + 1)
        variant[members] = rng.choice(len(p), size=len(members), p=p / p.sum())
    return starts[tool] + variant * len(_ARCHES) + arch


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
    for k, kind in enumerate(_NETWORKS):
        for rows, blocks, table in (
            (v4, _IPV4_NETWORKS[kind], octets),
            (v6, _IPV6_NETWORKS[kind], groups),
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


class _Pools:
    """The strings rows point at, and the turning of row matrices into Arrow tables."""

    def __init__(self, refs: _References, ips: pa.Array, received_us: int | None) -> None:
        self.methods = pa.array(_METHODS, pa.string())
        self.names, self.tags, self.digests = refs.names, refs.tags, refs.digests
        self.ips = ips
        self.uas = _user_agent_pool()[0]
        self.received_us = received_us

    def table(self, rows: IntArray, uids: ByteArray) -> pa.Table:
        n = rows.shape[1]
        recv = rows[_RECV] if self.received_us is None else np.full(n, self.received_us)
        return pa.Table.from_arrays(
            [
                _uuid_text(uids),
                pa.array(rows[_TS], pa.int64()),
                self.methods.take(rows[_METHOD]),
                self.names.take(rows[_NAME]),
                self.tags.take(rows[_TAG_ID]),
                self.digests.take(rows[_DIGEST_ID]),
                self.ips.take(rows[_IP]),
                self.uas.take(rows[_UA]),
                pa.repeat(pa.scalar("notification", pa.string()), n),
                pa.array(recv, pa.int64()),
            ],
            schema=SPOOL_SCHEMA,
        )


def _uuid_text(uids: ByteArray) -> pa.Array:
    """16 random bytes per row → canonical 36-character UUID strings, without a Python loop."""
    n = len(uids)
    hexed = np.frombuffer(uids.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(n, 32)
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for source, target in ((0, 0), (8, 9), (12, 14), (16, 19), (20, 24)):
        width = {0: 8, 20: 12}.get(source, 4)
        text[:, target : target + width] = hexed[:, source : source + width]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text.tobytes())]
    )


# ---------------------------------------------------------------------------------------------
# Spool lines


def to_spool_lines(table: pa.Table) -> bytes:
    """Render a SPOOL_SCHEMA table as spool lines, byte for byte what ``to_line()`` writes.

    Builds each line from whole columns in Arrow (keys in schema order, compact separators,
    JSON string escaping as ``json.dumps(..., ensure_ascii=False)``), then takes the bytes of
    the joined column at once.
    """
    if not table.schema.equals(SPOOL_SCHEMA):
        raise ValueError(f"not a spool table: {table.schema}")
    if table.num_rows == 0:
        return b""
    text = pa.large_string()
    parts: list[pa.ChunkedArray | pa.Scalar] = []
    for position, field in enumerate(SPOOL_SCHEMA):
        column = table.column(position)
        if column.null_count:
            raise ValueError(f"column {field.name!r} holds nulls; spool records have none")
        opening = "{" if position == 0 else ","
        parts.append(pa.scalar(opening + json.dumps(field.name) + ":", text))
        parts.append(_json_values(column))
    parts.append(pa.scalar("}\n", text))
    lines = pc.binary_join_element_wise(*parts, pa.scalar("", text)).combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    begin, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    data: bytes = lines.buffers()[2][begin:end].to_pybytes()
    return data


def _json_values(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """One column as JSON literals (large_string), escaped as the json module does."""
    text = pa.large_string()
    values = pc.cast(column, text)
    if pa.types.is_integer(column.type):
        return values
    contents = [_utf8_bytes(chunk) for chunk in values.chunks]
    if any(np.any(content < 0x20) for content in contents):
        # control characters are rare (never in generated data): let json spell them
        encoded = [json.dumps(value, ensure_ascii=False) for value in values.to_pylist()]
        return pa.chunked_array([pa.array(encoded, text)])
    if any(np.any((content == ord("\\")) | (content == ord('"'))) for content in contents):
        values = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    quote = pa.scalar('"', text)
    return pc.binary_join_element_wise(quote, values, quote, pa.scalar("", text))


_NO_BYTES = np.empty(0, dtype=np.uint8)


def _utf8_bytes(chunk: pa.Array) -> ByteArray:
    """The bytes of a large_string array's values, as a view (scanning them is a NumPy pass)."""
    offsets_buffer, data_buffer = chunk.buffers()[1:3]
    if data_buffer is None or len(chunk) == 0:
        return _NO_BYTES
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)
    begin, end = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
    return np.frombuffer(data_buffer, dtype=np.uint8)[begin:end]
