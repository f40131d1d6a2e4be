"""What every request handler shares: the runtime, the spool writer, keys and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from pullstats.api.cache import ResponseCache
from pullstats.api.metrics import Metrics
from pullstats.lake.spool import SpoolWriter
from pullstats.runtime import Runtime


@dataclass
class AppState:
    runtime: Runtime
    spool: SpoolWriter
    jwt_key: bytes
    download_key: bytes
    metrics: Metrics
    #: ingest token text → monotonic time until which it is trusted without a database lookup
    ingest_tokens: dict[str, float] = field(default_factory=dict)
    #: bodies of pull-series answers by (viewer scope, query, data generation)
    responses: ResponseCache = field(default_factory=ResponseCache)


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.pullstats
    return state
