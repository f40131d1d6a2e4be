"""Operations endpoints: ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from pullstats.api.models import Health
from pullstats.api.state import AppState, app_state

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    operation_id="getHealth",
    response_model=Health,
    responses={
        503: {
            "model": Health,
            "description": "The data dir, the database or a store on object storage is unusable.",
        }
    },
    summary="Whether the data dir, the catalog database and the stores on S3 are usable",
)
async def healthz(state: Annotated[AppState, Depends(app_state)]) -> Health | JSONResponse:
    # a probe writes to the disk and reads the catalog, in the thread pool (a stuck disk must
    # not stall the event loop); probes that arrive during one share its result
    health = await state.health_checks(lambda: _health(state))
    if health.status == "ok":
        return health
    return JSONResponse(health.model_dump(), status_code=503)


def _health(state: AppState) -> Health:
    checks: dict[str, str] = {}
    # a name of its own per request: concurrent checks must not delete each other's probe
    probe = state.runtime.paths.tmp / f".healthz-{uuid.uuid4().hex}"
    try:  # root passes every permission check, so only a real write proves the disk usable
        probe.write_bytes(b"ok")
        probe.unlink()
        checks["data_dir"] = "ok"
    except OSError as error:
        checks["data_dir"] = f"error: {error.strerror or type(error).__name__}"
    try:
        with state.runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # any driver error means the database is not usable
        checks["database"] = f"error: {type(error).__name__}"
    # the lake and the exports when on object storage: a request each, every few seconds
    settings = state.runtime.settings
    checks.update(state.store_checks.results(settings.lake, settings.exports_store))
    healthy = all(value == "ok" for value in checks.values())
    return Health(status="ok" if healthy else "unavailable", checks=checks)


@router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(state: Annotated[AppState, Depends(app_state)]) -> Response:
    # a scrape lists the lake's set-aside records and reads the catalog's nodes: in the thread
    # pool, one at a time, shared by the scrapes that arrive meanwhile
    body = await state.scrapes(lambda: generate_latest(state.metrics.registry))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
