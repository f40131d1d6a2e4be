"""Prometheus metrics of a server process; no namespace or repository labels (they are private)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pullstats.api.http_protocol import ANSWERED_BY_SERVER
from pullstats.api.lake_listing import LakeListing
from pullstats.config import Settings
from pullstats.db.engine import driver_said
from pullstats.db.nodes import node_states
from pullstats.lake.set_aside import SET_ASIDE_REASONS
from pullstats.logs import log_to_stderr
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
    """``pullstats_set_aside_records`` and ``pullstats_damaged_lake_files``: read from the lake
    (a listing of ``set-aside/``), as ``process`` (another process) is what sets records and
    files aside; and ``pullstats_lake_listing_ok``, whether that listing worked.

    The listing never fails a scrape nor holds it (:mod:`pullstats.api.lake_listing`): while the
    lake cannot be listed, its two gauges are left out and the others are served as ever."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.listing = LakeListing(settings)

    def collect(self) -> Iterator[Metric]:
        listed = self.listing.current()
        yield GaugeMetricFamily(
            "pullstats_lake_listing_ok",
            "1 when the lake's set-aside folder was listed (pullstats_set_aside_records and "
            "pullstats_damaged_lake_files are its counts), 0 when it failed or is overdue.",
            value=1 if listed.ok else 0,
        )
        if listed.counts is None or listed.damaged is None:
            return
        family = GaugeMetricFamily(
            "pullstats_set_aside_records",
            "Records set aside instead of counted (lake/set-aside), by reason.",
            labels=["reason"],
        )
        for reason in sorted(set(SET_ASIDE_REASONS) | set(listed.counts)):
            family.add_metric([reason], listed.counts.get(reason, 0))
        yield family
        yield GaugeMetricFamily(
            "pullstats_damaged_lake_files",
            "Damaged lake files moved to lake/set-aside/damaged-files so far.",
            value=listed.damaged,
        )


class NodesCollector(Collector):
    """``pullstats_node_*``: each node of the catalog, read at each scrape (one small query), so
    an alert can see a node that timed out or whose ``process`` stopped moving on; and
    ``pullstats_catalog_read_ok``, whether that read worked.

    A catalog that cannot be read (its server down or refusing connections) failed the whole
    scrape with a ``500`` and a traceback in the log each time, so every metric was lost during
    the outage: now the node gauges are left out, ``pullstats_catalog_read_ok`` is 0, and the
    failure is logged once, in one line, until a read works again."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._failing = False  # the last read failed, and that was logged
        log_to_stderr(metrics_log)

    def collect(self) -> Iterator[Metric]:
        try:
            with self.runtime.sessions() as session:
                states = node_states(session, datetime.now(UTC), self.runtime.settings.node_timeout)
        except SQLAlchemyError as error:
            if not self._failing:
                metrics_log.warning("/metrics: the catalog could not be read: %s", _cause(error))
                self._failing = True
            yield _catalog_read_ok(False)
            return
        if self._failing:
            metrics_log.warning("/metrics: the catalog can be read again")
            self._failing = False
        yield _catalog_read_ok(True)
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
        for state in states:
            if not state.name:  # the watermark of a catalog from before nodes (migration 0007)
                continue
            live.add_metric([state.name], 1 if state.live else 0)
            seen.add_metric([state.name], state.last_seen.timestamp())
            if state.watermark is not None:
                marks.add_metric([state.name], state.watermark.timestamp())
        yield from (live, seen, marks)


def _catalog_read_ok(ok: bool) -> Metric:
    return GaugeMetricFamily(
        "pullstats_catalog_read_ok",
        "1 when this scrape read the nodes from the catalog (the pullstats_node_* gauges), "
        "0 when the catalog could not be read and they are left out.",
        value=1 if ok else 0,
    )


def _cause(error: SQLAlchemyError) -> str:
    """The driver's error in one line after its kind (:func:`driver_said`, as the commands'
    lines say it)."""
    kind = type(getattr(error, "orig", None) or error).__name__
    said = driver_said(error)
    return kind if said == kind else f"{kind}: {said}"


#: One line per request when ``PULLSTATS_ACCESS_LOG`` is on. uvicorn's own access log is off:
#: it prints query strings, and a signed download link's signature is in its query string.
access_log = logging.getLogger("pullstats.access")
#: One line for each request whose client went away before its body ended (without the
#: access log, which says it then); and the nodes' catalog read, when it fails and works again.
metrics_log = logging.getLogger(__name__)

#: The status a request is counted under when its client closed the connection before the
#: request's body had all arrived: nginx's "client closed request". No one is left to answer.
CLIENT_CLOSED = 499


class MetricsMiddleware:
    """Counts and times every request under its route template, never its concrete path.

    A request whose client went away before sending its whole body is the client's doing, not
    a failure of the server: Starlette raises ``ClientDisconnect`` at the read, which would
    otherwise reach uvicorn as an "Exception in ASGI application" with a traceback, counted
    ``500``. It is counted :data:`CLIENT_CLOSED` and logged in one line instead, whatever the
    route made of the missing body (FastAPI turns it into a ``400``, which no one reads). A body
    the HTTP parser refused (a broken chunked encoding) looks the same from here, but uvicorn
    answered it ``400`` and logged it itself: ``api/http_protocol.py`` marks the request so.
    """

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
        answered = False  # the answer's head was sent
        body_ended = False
        cut_short = False  # the client went away before its body ended, and before an answer

        async def capture(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
            await send(message)

        async def receive_watched() -> Message:
            nonlocal body_ended, cut_short
            message = await receive()
            if message["type"] == "http.request":
                body_ended = not message.get("more_body", False)
            elif message["type"] == "http.disconnect" and not (body_ended or answered):
                cut_short = True
            return message

        try:
            await self.app(scope, receive_watched, capture)
        except ClientDisconnect:
            # raised only by a read that met the disconnect: nothing to answer, no one to tell
            cut_short = cut_short or not answered
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if cut_short:
                status = scope.get(ANSWERED_BY_SERVER, CLIENT_CLOSED)
                if status == CLIENT_CLOSED and not self.log_requests:
                    metrics_log.info(
                        "the client closed the connection before its request ended: %s %s "
                        "(counted as %d)",
                        scope["method"],
                        scope["path"],  # never the query string
                        CLIENT_CLOSED,
                    )
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
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(template).observe(elapsed)
