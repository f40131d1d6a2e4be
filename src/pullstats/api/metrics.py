"""Prometheus metrics of a server process; no namespace or repository labels (they are private)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pullstats.config import Settings
from pullstats.db.nodes import node_states
from pullstats.lake.set_aside import SET_ASIDE_REASONS, set_aside_counts
from pullstats.runtime import Runtime


class Metrics:
    """The metrics of one app, in their own registry so several apps can live in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pullstats_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pullstats_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.password_checks = Gauge(
            "pullstats_password_checks_running",
            "Password checks (argon2id) running now; at most PULLSTATS_PASSWORD_CHECKS.",
            registry=self.registry,
        )
        self.password_checks_waiting = Gauge(
            "pullstats_password_checks_waiting",
            "Logins and password changes waiting for their turn to check a password.",
            registry=self.registry,
        )
        self.ingested = Counter(
            "pullstats_ingest_events",
            "Registry events received, by outcome (accepted, ignored, rejected) and reason.",
            ["outcome", "reason"],
            registry=self.registry,
        )


class SetAsideCollector(Collector):
    """``pullstats_set_aside_records``: read from the lake (a listing of ``set-aside/``) at
    each scrape, as ``process`` (another process) is what sets records aside."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "pullstats_set_aside_records",
            "Records set aside instead of counted (lake/set-aside), by reason.",
            labels=["reason"],
        )
        counts = set_aside_counts(self.settings)
        for reason in sorted(set(SET_ASIDE_REASONS) | set(counts)):
            family.add_metric([reason], counts.get(reason, 0))
        yield family


class NodesCollector(Collector):
    """``pullstats_node_*``: each node of the catalog, read at each scrape (one small query), so
    an alert can see a node that timed out or whose ``process`` stopped moving on."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        settings = self.runtime.settings
        live = GaugeMetricFamily(
            "pullstats_node_live",
            "1 while the node holds periods open (seen within PULLSTATS_NODE_TIMEOUT), else 0.",
            labels=["node"],
        )
        seen = GaugeMetricFamily(
            "pullstats_node_last_seen_seconds",
            "When the node was last seen (heartbeat or process), seconds since the epoch.",
            labels=["node"],
        )
        marks = GaugeMetricFamily(
            "pullstats_node_watermark_seconds",
            "Arrival time up to which the node's spool is processed, seconds since the epoch.",
            labels=["node"],
        )
        with self.runtime.sessions() as session:
            states = node_states(session, datetime.now(UTC), settings.node_timeout)
        for state in states:
            if not state.name:  # the watermark of a catalog from before nodes (migration 0007)
                continue
            live.add_metric([state.name], 1 if state.live else 0)
            seen.add_metric([state.name], state.last_seen.timestamp())
            if state.watermark is not None:
                marks.add_metric([state.name], state.watermark.timestamp())
        yield from (live, seen, marks)


#: One line per request when ``PULLSTATS_ACCESS_LOG`` is on. uvicorn's own access log is off:
#: it prints query strings, and a signed download link's signature is in its query string.
access_log = logging.getLogger("pullstats.access")


class MetricsMiddleware:
    """Counts and times every request under its route template, never its concrete path."""

    def __init__(self, app: ASGIApp, metrics: Metrics, log_requests: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(template).observe(elapsed)
            if self.log_requests:
                client = scope.get("client")
                access_log.info(
                    '%s - "%s %s HTTP/%s" %d %.1f ms',
                    f"{client[0]}:{client[1]}" if client else "-",
                    scope["method"],
                    scope["path"],  # never the query string
                    scope.get("http_version", "1.1"),
                    status,
                    elapsed * 1000,
                )
