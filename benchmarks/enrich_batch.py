"""Enrichment of one compaction batch: the columns of docs/enrichment.md for many rows.

Run (from the repository root):

    python benchmarks/enrich_batch.py --rows 1000000 --ips 50000 --agents 500

Builds a batch of `--rows` rows drawn from `--ips` distinct addresses (a mix of IPv4 and IPv6
across the whole address space, so every lookup path is used) and `--agents` distinct user
agents, then times, `--repeat` times, `enrich()` on it in this process. The first call also
loads the bundled data (once per process); it is reported apart.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import statistics
import time

import pyarrow as pa
from _common import print_environment

from pullstats.enrich import enrich
from pullstats.enrich.bundled import asn_organisations, cloud_ranges

_AGENTS = [
    "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0-45-generic os/linux arch/amd64"
    " UpstreamClient(Docker-Client/27.3.1 \\(linux\\))",
    "containerd/v1.7.22",
    "containers/5.32.2 (github.com/containers/image)",
    "cri-o/1.30.4 go/go1.22.5 os/linux arch/amd64",
    "curl/8.5.0",
]


def make_batch(rows: int, ips: int, agents: int, seed: int) -> tuple[pa.Array, pa.Array]:
    rng = random.Random(seed)
    addresses = [
        str(ipaddress.IPv6Address((0x2000 << 112) | rng.getrandbits(116)))
        if rng.random() < 0.1
        else str(ipaddress.IPv4Address(rng.getrandbits(32)))
        for _ in range(ips)
    ]
    user_agents = [f"{rng.choice(_AGENTS)} build/{index}" for index in range(agents)]
    return (
        pa.array(rng.choices(addresses, k=rows), pa.string()),
        pa.array(rng.choices(user_agents, k=rows), pa.string()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--ips", type=int, default=50_000)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print_environment()
    ips, user_agents = make_batch(args.rows, args.ips, args.agents, args.seed)

    started = time.perf_counter()
    cloud_ranges()
    asn_organisations()
    load = time.perf_counter() - started
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        enrich(ips, user_agents)
        times.append(time.perf_counter() - started)
    best, median = min(times), statistics.median(times)
    print(f"bundled data load (once per process): {load:.2f} s")
    print(
        f"enrich {args.rows:,} rows, {args.ips:,} distinct IPs, {args.agents} distinct agents: "
        f"median {median:.2f} s, best {best:.2f} s ({args.rows / median:,.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
