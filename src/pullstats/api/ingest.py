"""``POST /ingest/v1/registry/events``: registry notifications into the spool, durably.

A registry retries a non-2xx answer forever, so content problems inside a valid envelope are
never an error status: a bad event is counted and reported, the others are stored. Only a body
that is not an envelope at all (wrong type, not JSON, no ``events``) is refused whole.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from pullstats.accounts.service import verify_ingest_token
from pullstats.api.models import ErrorDetail, IngestRejection, IngestReport
from pullstats.api.state import AppState, app_state
from pullstats.ingest.errors import InvalidEnvelope
from pullstats.ingest.notifications import (
    ENVELOPE_MEDIA_TYPES,
    check_media_type,
    parse_envelope,
)
from pullstats.ingest.records import now_micros, spool_lines

router = APIRouter(tags=["ingest"])
_bearer = HTTPBearer(
    auto_error=False, scheme_name="IngestToken", description="An ingest token (psi_…)."
)

#: The body as documented. The route reads the raw bytes itself (a bad event is reported, not
#: refused), so FastAPI cannot describe it: without this the contract would show no body at all.
_ENVELOPE_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        media_type: {
            "schema": {
                "type": "object",
                "required": ["events"],
                "properties": {
                    "events": {
                        "type": "array",
                        # any item: a malformed event is reported in `rejected`, not refused
                        "description": "Registry events; those that are not pulls are counted "
                        "as ignored, malformed ones (even non-objects) as rejected.",
                    }
                },
            }
        }
        for media_type in sorted(ENVELOPE_MEDIA_TYPES)
    },
}

#: How long a verified ingest token is trusted before it is looked up again (revocation delay).
TOKEN_CACHE_SECONDS = 30.0


async def _authorize(state: AppState, credentials: HTTPAuthorizationCredentials | None) -> None:
    if credentials is None:
        raise HTTPException(
            401,
            "ingest token required: Authorization: Bearer psi_…",
            {"WWW-Authenticate": "Bearer"},
        )
    token = credentials.credentials
    now = time.monotonic()
    if state.ingest_tokens.get(token, 0.0) > now:
        return

    def lookup() -> bool:
        with state.runtime.sessions() as session:
            return verify_ingest_token(session, token)

    if not await run_in_threadpool(lookup):
        raise HTTPException(401, "invalid ingest token", {"WWW-Authenticate": "Bearer"})
    if len(state.ingest_tokens) > 1000:
        state.ingest_tokens.clear()
    state.ingest_tokens[token] = now + TOKEN_CACHE_SECONDS


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise InvalidEnvelope(f"body larger than {limit} bytes", status_code=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidEnvelope(f"body larger than {limit} bytes", status_code=413)
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/ingest/v1/registry/events",
    response_model=IngestReport,
    responses={
        400: {"model": ErrorDetail, "description": "Not JSON, or not a notification envelope."},
        401: {"model": ErrorDetail, "description": "Missing or invalid ingest token."},
        413: {"model": ErrorDetail, "description": "Body larger than the configured limit."},
        415: {"model": ErrorDetail, "description": "Not a notification media type."},
    },
    summary="Receive a registry notification envelope",
    openapi_extra={"requestBody": _ENVELOPE_BODY},
)
async def receive_events(
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    await _authorize(state, credentials)
    try:
        check_media_type(request.headers.get("content-type"))
        body = await _read_body(request, state.runtime.settings.ingest_max_body_bytes)
        result = parse_envelope(body, request.headers.get("content-type"), now_micros())
    except InvalidEnvelope as error:
        raise HTTPException(error.status_code, str(error)) from None
    if result.records:
        await state.spool.append_async(spool_lines(result.records))
    counter = state.metrics.ingested
    counter.labels("accepted", "manifest_request").inc(len(result.records))
    for reason, count in result.ignored.items():
        counter.labels("ignored", reason).inc(count)
    if result.rejected:
        counter.labels("rejected", "invalid_event").inc(len(result.rejected))
    report = IngestReport(
        accepted=len(result.records),
        ignored=dict(result.ignored),
        rejected=[IngestRejection(index=i, error=e) for i, e in result.rejected],
    )
    # Answered as bytes: the model above is the documented shape (response_model), and this
    # skips FastAPI validating it a second time before serialising it.
    return Response(report.model_dump_json().encode(), media_type="application/json")
