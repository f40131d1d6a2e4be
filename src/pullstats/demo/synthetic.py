"""Synthetic registry traffic: a seeded, realistic history of manifest requests as spool rows.

Responsible for the data behind ``pullstats demo``, tests and benchmarks: successful manifest
requests as a registry's notifications report them, yielded as Arrow tables with exactly
:data:`~pullstats.ingest.records.SPOOL_SCHEMA` (:mod:`pullstats.demo.spool_encoding` renders
them as spool lines). It models what a registry sees (the model's constants are in
:mod:`pullstats.demo.traffic_model`):

- who pulls: desktops (docker, podman), Kubernetes nodes (containerd, cri-o), CI farms behind
  a few NAT addresses pulling the same tag in bursts (docker, buildkit, kaniko), scripts and
  tools (crane, skopeo, curl, Go-http-client), and update bots (Watchtower, Renovate) that only
  HEAD a tag at a fixed interval; cloud, ISP and business addresses, IPv4 mostly;
- who is signed in: a share of them pull as a registry user (``docker login``, pull secrets, CI
  service accounts, bots' tokens), one user often from several clients and addresses; most
  pull anonymously (:mod:`pullstats.demo.registry_users`);
- how each client spells a pull: HEAD by tag, GET of the index by digest, GET of the platform
  manifest (docker, containerd); GET by tag then GET of the platform manifest
  (containers/image, go-containerregistry); pulls by digest; lone HEADs (version checks);
- when: Zipf-like popularity of repositories and tags, a daily and a weekly cycle, mild growth.

The same arguments always give the same tables. Work is vectorised with NumPy and Arrow, and a
day is produced in slices so that a busy day never sits whole in memory.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from pullstats.demo.arrays import (
    ROW_CLIENT,
    ROW_DIGEST_ID,
    ROW_METHOD,
    ROW_NAME,
    ROW_RECV,
    ROW_TAG_ID,
    ROW_TS,
    ROWS,
    ByteArray,
    FloatArray,
    IntArray,
)
from pullstats.demo.catalog import SyntheticCatalog
from pullstats.demo.population import Bots, Clients, References, user_agent_pool
from pullstats.demo.registry_users import sign_in
from pullstats.demo.traffic_model import (
    BOT_SHARE,
    BURST_GAP_US,
    BURST_P,
    DAY_US,
    DROP_IF_SINGLE,
    FAVOURITE,
    FLUSH_ROWS,
    GROWTH_PER_DAY,
    HOUR_CDF,
    HOUR_EDGES_US,
    METHODS,
    SLICE_ROWS,
    STEP_BY_TAG,
    STEP_COUNT,
    STEP_METHOD,
    STEP_PLATFORM,
    TOOL_CUM,
    WEEKDAY,
)
from pullstats.ingest.records import SPOOL_SCHEMA

__all__ = ["MAX_CHUNK_ROWS", "generate_requests"]

#: Most rows one yielded table holds.
MAX_CHUNK_ROWS = 200_000


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
    refs = References(catalog)
    clients = Clients(rng, int(np.clip(requests_per_day * 0.8, 200, 500_000)), days, refs)
    bots = Bots(rng, BOT_SHARE * requests_per_day, refs, numbered_from=len(clients.ips))
    users = sign_in(seed, clients, bots, refs)
    pools = _Pools(refs, clients, bots, users, received_us)
    pulls_per_day = max(0.0, requests_per_day - bots.per_day)
    factors = _day_factors(start, days)
    first_us = (start - dt.date(1970, 1, 1)).days * DAY_US
    rows = np.empty((ROWS, 0), dtype=np.int64)
    uids = np.empty((0, 16), dtype=np.uint8)
    for day in range(days):
        day_us = first_us + day * DAY_US
        weights = np.where(clients.first_day <= day, clients.weight, 0.0)
        cumulative = np.cumsum(weights)
        per_session = float(np.dot(weights, clients.requests_per_session)) / cumulative[-1]
        sessions = pulls_per_day * factors[day] / per_session
        slices = max(1, math.ceil((pulls_per_day * factors[day] + bots.per_day) / SLICE_ROWS))
        quantiles = np.linspace(0.0, 1.0, slices + 1)
        edges = day_us + np.interp(quantiles, HOUR_CDF, HOUR_EDGES_US).astype(np.int64)
        edges[-1] = day_us + DAY_US
        for i in range(slices):
            lo, hi = int(edges[i]), int(edges[i + 1])
            count = int(rng.poisson(sessions / slices))
            quantile = rng.uniform(quantiles[i], quantiles[i + 1], count)
            session_us = day_us + np.interp(quantile, HOUR_CDF, HOUR_EDGES_US).astype(np.int64)
            new = np.concatenate(
                [
                    _pulls(rng, np.clip(session_us, lo, hi - 1), cumulative, clients, refs),
                    bots.checks(rng, lo, hi, refs),
                ],
                axis=1,
            )
            if received_us is None:
                new[ROW_RECV] = new[ROW_TS] + _delivery_delays(rng, new.shape[1])
            rows = np.concatenate([rows, new], axis=1)
            uids = np.concatenate([uids, _random_uuids(rng, new.shape[1])])
            # nothing generated later starts before `hi`: rows before it are final
            done = rows[ROW_TS] < hi
            if i == slices - 1 or np.count_nonzero(done) >= FLUSH_ROWS:
                order = np.flatnonzero(done)
                order = order[np.argsort(rows[ROW_TS, order], kind="stable")]
                for part in range(0, len(order), MAX_CHUNK_ROWS):
                    chunk = order[part : part + MAX_CHUNK_ROWS]
                    yield pools.table(rows[:, chunk], uids[chunk])
                rows, uids = rows[:, ~done], uids[~done]


def _pulls(
    rng: np.random.Generator,
    session_us: IntArray,
    cumulative: FloatArray,
    clients: Clients,
    refs: References,
) -> IntArray:
    """Rows for sessions starting at ``session_us``: who pulls what, request by request."""
    n = len(session_us)
    client = np.searchsorted(cumulative, rng.random(n) * cumulative[-1], side="right")
    client = np.minimum(client, len(cumulative) - 1)
    klass = clients.klass[client]
    ref = np.where(rng.random(n) < FAVOURITE[klass], clients.favourite[client], refs.draw(rng, n))
    # a CI session is a burst of jobs pulling the same image, seconds apart
    burst = rng.geometric(BURST_P[klass]).astype(np.int64)
    of_session = np.repeat(np.arange(n), burst)
    gaps = rng.exponential(BURST_GAP_US, len(of_session))
    first = np.cumsum(burst) - burst
    gaps[first] = 0.0
    since = np.cumsum(gaps)
    pull_us = session_us[of_session] + (since - np.repeat(since[first], burst)).astype(np.int64)
    pull_client = client[of_session]
    pull_ref = ref[of_session]
    tool = clients.tool[pull_client]
    pattern = (TOOL_CUM[tool] <= rng.random(len(tool))[:, None]).sum(axis=1)
    steps = STEP_COUNT[pattern] - DROP_IF_SINGLE[pattern] * refs.single[pull_ref]
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
    platform = STEP_PLATFORM[request_pattern, step]
    out = np.empty((ROWS, len(of_pull)), dtype=np.int64)
    out[ROW_TS] = pull_us[of_pull] + offset.astype(np.int64)
    out[ROW_RECV] = 0
    out[ROW_METHOD] = STEP_METHOD[request_pattern, step]
    out[ROW_NAME] = refs.repository[request_ref]
    out[ROW_TAG_ID] = np.where(STEP_BY_TAG[request_pattern, step], request_ref + 1, 0)
    out[ROW_DIGEST_ID] = np.where(
        platform, refs.platform[request_ref, arch], refs.index[request_ref]
    )
    out[ROW_CLIENT] = request_client
    return out


def _day_factors(start: dt.date, days: int) -> FloatArray:
    """Each day's share of the traffic, averaging 1: the weekly cycle times steady growth."""
    index = np.arange(days)
    factors: FloatArray = WEEKDAY[(start.weekday() + index) % 7] * np.exp(GROWTH_PER_DAY * index)
    return factors / factors.mean() if days else factors


def _random_uuids(rng: np.random.Generator, n: int) -> ByteArray:
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw


def _delivery_delays(rng: np.random.Generator, n: int) -> IntArray:
    # registries queue notifications and post them in batches
    return np.clip(rng.lognormal(np.log(0.15e6), 0.9, n), 5e3, 10e6).astype(np.int64)


class _Pools:
    """The strings rows point at, and the turning of row matrices into Arrow tables."""

    def __init__(
        self,
        refs: References,
        clients: Clients,
        bots: Bots,
        users: pa.Array,
        received_us: int | None,
    ) -> None:
        self.methods = pa.array(METHODS, pa.string())
        self.names, self.tags, self.digests = refs.names, refs.tags, refs.digests
        self.ips, self.users = pa.concat_arrays([clients.ips, bots.ips]), users
        # per client, then per bot: its address, user agent and user
        bot_ips = len(clients.ips) + np.arange(len(bots.ips), dtype=np.int64)
        self.ip = np.concatenate([clients.ip, bot_ips])
        self.ua = np.concatenate([clients.ua, bots.ua])
        self.user = np.concatenate([clients.user, bots.user])
        self.uas = user_agent_pool()[0]
        self.received_us = received_us

    def table(self, rows: IntArray, uids: ByteArray) -> pa.Table:
        n = rows.shape[1]
        recv = rows[ROW_RECV] if self.received_us is None else np.full(n, self.received_us)
        sender = rows[ROW_CLIENT]
        return pa.Table.from_arrays(
            [
                _uuid_text(uids),
                pa.array(rows[ROW_TS], pa.int64()),
                self.methods.take(rows[ROW_METHOD]),
                self.names.take(rows[ROW_NAME]),
                self.tags.take(rows[ROW_TAG_ID]),
                self.digests.take(rows[ROW_DIGEST_ID]),
                self.ips.take(self.ip[sender]),
                self.uas.take(self.ua[sender]),
                pa.repeat(pa.scalar("notification", pa.string()), n),
                pa.array(recv, pa.int64()),
                self.users.take(self.user[sender]),
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
