"""The model behind the synthetic traffic: how clients spell a pull, who pulls, and when.

Constants only, each with where it comes from: the request patterns of each client tool, the
tools' user agents, the client classes (desktops, Kubernetes nodes, CI farms, scripts, update
bots) with their networks and habits, and the daily, weekly and yearly rhythm.
:mod:`pullstats.demo.synthetic` draws from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from pullstats.demo.arrays import IntArray

GET, HEAD = 0, 1
METHODS = ("GET", "HEAD")

# One pull as a client spells it: (method, by tag?, platform manifest?) per request; the rest
# are by digest of the index (or of the single-arch image).
_PATTERNS: tuple[tuple[tuple[int, bool, bool], ...], ...] = (
    # docker and containerd by tag: resolve with HEAD, then fetch the index and a platform
    ((HEAD, True, False), (GET, False, False), (GET, False, True)),
    # containers/image and go-containerregistry by tag: GET the tag, then a platform manifest
    ((GET, True, False), (GET, False, True)),
    # a manifest inspection: skopeo inspect --raw, crane manifest, curl
    ((GET, True, False),),
    # containerd by digest: HEAD, then GET of the same digest, then a platform manifest
    ((HEAD, False, False), (GET, False, False), (GET, False, True)),
    # docker and containers/image by digest
    ((GET, False, False), (GET, False, True)),
    # pinned to a platform manifest's digest
    ((GET, False, True),),
    # version check: does the tag still point at the digest I run?
    ((HEAD, True, False),),
)


def _pattern_table(column: int) -> IntArray:
    table = np.zeros((len(_PATTERNS), 3), dtype=np.int64)
    for p, steps in enumerate(_PATTERNS):
        for s, step in enumerate(steps):
            table[p, s] = int(step[column])
    return table


STEP_COUNT = np.array([len(steps) for steps in _PATTERNS], dtype=np.int64)
STEP_METHOD = _pattern_table(0)
STEP_BY_TAG = _pattern_table(1).astype(np.bool_)
STEP_PLATFORM = _pattern_table(2).astype(np.bool_)
# A single-arch image has no platform manifest to fetch after its image manifest.
DROP_IF_SINGLE = np.array([len(steps) > 1 and steps[-1][2] for steps in _PATTERNS], dtype=np.int64)


@dataclass(frozen=True)
class _Tool:
    user_agents: tuple[str, ...]  # most common first; "{arch}" is the client's architecture
    patterns: tuple[float, ...]  # probability of each of _PATTERNS per pull


ARCHES = ("amd64", "arm64")
_CONTAINERS_IMAGE = " (github.com/containers/image)"

TOOLS: dict[str, _Tool] = {
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
    # scanners in CI pipelines read an image through go-containerregistry: GET the tag, then a
    # platform manifest (Trivy's own agent since 0.53; Grype's is the binary's path)
    "trivy": _Tool(
        (
            "trivy/0.57.1 go-containerregistry/v0.20.2",
            "trivy/0.56.2 go-containerregistry/v0.20.2",
        ),
        (0, 0.80, 0.05, 0, 0.10, 0.05, 0),
    ),
    "grype": _Tool(("/grype go-containerregistry/v0.20.3",), (0, 0.85, 0, 0, 0.10, 0.05, 0)),
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
TOOL_NAMES = tuple(TOOLS)
TOOL_CUM = np.array([np.cumsum(tool.patterns) for tool in TOOLS.values()], dtype=np.float64)
TOOL_CUM /= TOOL_CUM[:, -1:]
TOOL_STEPS = np.array(
    [np.dot(tool.patterns, STEP_COUNT) / sum(tool.patterns) for tool in TOOLS.values()]
)

# ---------------------------------------------------------------------------------------------
# Who pulls

NETWORKS = ("cloud", "isp", "business")

# /16s inside public ranges: AWS, Google Cloud, Azure, DigitalOcean, Hetzner, OVH (cloud);
# Comcast, AT&T, Verizon, Deutsche Telekom, Orange, BT, NTT, Jio, Vivo (isp); universities and
# companies on their own blocks (business).
IPV4_NETWORKS: dict[str, tuple[tuple[int, int], ...]] = {
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
IPV6_NETWORKS: dict[str, tuple[tuple[int, int], ...]] = {
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


CLASSES = (
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
    # CI farms: many jobs behind few addresses, pulling the same tag within seconds; some jobs
    # scan the image they built or pulled
    _ClientClass(
        0.03, 0.28,
        {"docker": 0.45, "buildkit": 0.30, "kaniko": 0.10, "podman": 0.05, "trivy": 0.07,
         "grype": 0.03},
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
FAVOURITE = np.array([c.favourite for c in CLASSES])
BURST_P = np.array([1.0 / c.burst_mean for c in CLASSES])
BURST_GAP_US = 12e6  # mean gap between the jobs of one CI burst: often under the 5 s window


@dataclass(frozen=True)
class _BotKind:
    share: float  # of the bots
    tool: str
    networks: Mapping[str, float]
    periods_s: tuple[int, ...]  # all divide a day, so every day holds the same checks
    period_weights: tuple[float, ...]


BOT_KINDS = (
    # Watchtower polls every 24 h by default; people shorten it
    _BotKind(0.55, "watchtower", {"isp": 0.8, "business": 0.2}, (300, 3600, 21600, 86400),
             (0.1, 0.3, 0.2, 0.4)),
    _BotKind(0.30, "renovate", {"cloud": 0.9, "business": 0.1}, (3600, 14400, 86400),
             (0.5, 0.3, 0.2)),
    _BotKind(0.15, "go-http", {"cloud": 0.6, "business": 0.4}, (300, 900, 3600),
             (0.3, 0.3, 0.4)),
)  # fmt: skip
BOT_SHARE = 0.06  # of all requests: version-check bots' lone HEADs

# ---------------------------------------------------------------------------------------------
# When

US = 1_000_000
DAY_US = 86_400 * US
WEEKDAY = np.array([1.0, 1.03, 1.04, 1.02, 0.94, 0.58, 0.52])  # Monday first: work drives pulls
GROWTH_PER_DAY = 0.0007  # about +29 % a year
# UTC hours: European and American working days overlap in the afternoon
_HOURLY = np.array(
    [0.45, 0.40, 0.38, 0.38, 0.42, 0.55, 0.75, 0.95, 1.15, 1.30, 1.35, 1.35,
     1.35, 1.40, 1.50, 1.55, 1.50, 1.35, 1.15, 0.95, 0.80, 0.70, 0.60, 0.50]
)  # fmt: skip
HOUR_CDF = np.concatenate([[0.0], np.cumsum(_HOURLY) / _HOURLY.sum()])
HOUR_EDGES_US = np.arange(25, dtype=np.float64) * 3600 * US

SLICE_ROWS = 40_000  # expected rows generated at a time
FLUSH_ROWS = 100_000  # finished rows that make a table
