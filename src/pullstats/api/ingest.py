"""``POST /ingest/v1/registry/events``: registry notifications into the spool, durably.

A registry retries a non-2xx answer forever, so content problems inside a valid envelope are
never an error status: a bad event is counted and reported, the others are stored. Only a body
that is not an envelope at all (wrong type, not JSON, no ``events``) is refused whole.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from pullstats.accounts.service import verify_ingest_token
from pullstats.api.auth import bearer_token
from pullstats.api.envelope_parsing import INLINE_BYTES, Refusal, refusal_status, spill_path
from pullstats.api.models import ErrorDetail, IngestReport
from pullstats.api.state import AppState, app_state
from pullstats.ingest.errors import EnvelopeTooLarge, InvalidEnvelope
from pullstats.ingest.notifications import ENVELOPE_MEDIA_TYPES, check_media_type
from pullstats.timestamps import now_micros

log = logging.getLogger(__name__)

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

#: Verified ingest tokens remembered per process (beyond it, the oldest are forgotten).
MAX_CACHED_TOKENS = 1000


def _refusal(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """The answer FastAPI gives an HTTPException, so both ways in answer alike."""
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _authorize(state: AppState, token: str | None) -> Response | None:
    """None when the token is a live ingest token, else the 401 to answer.

    A verified token is trusted while the accounts epoch it was verified at is current: any
    change to an ingest token bumps the epoch (a trigger, migration 0005), so a revoked token is
    refused on its next delivery, by every server process, at the cost of one point read.
    """
    if token is None:
        return _refusal(
            401,
            "ingest token required: Authorization: Bearer psi_…",
            {"WWW-Authenticate": "Bearer"},
        )
    # read before the lookup: a change after this read is caught by the next delivery
    epoch = (await state.versions()).accounts_epoch
    if state.ingest_tokens.get(token) == epoch:
        return None

    def lookup() -> bool:
        with state.runtime.sessions() as session:
            return verify_ingest_token(session, token)

    if not await run_in_threadpool(lookup):
        state.ingest_tokens.pop(token, None)
        return _refusal(401, "invalid ingest token", {"WWW-Authenticate": "Bearer"})
    if len(state.ingest_tokens) >= MAX_CACHED_TOKENS:
        state.ingest_tokens.pop(next(iter(state.ingest_tokens)))
    state.ingest_tokens[token] = epoch
    return None


async def _read_body(request: Request, limit: int, spill_dir: Path) -> bytes | Path:
    """The body: in memory up to INLINE_BYTES, else written to a file in ``spill_dir`` as it
    arrives (the caller deletes it).

    A large body is never joined or copied whole in this process: with eight 16 MiB bodies
    arriving at once, joining each (and pickling it for the worker) held the event loop for
    hundreds of milliseconds. Each chunk is a small write to the page cache instead, and the
    worker process reads the file.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise EnvelopeTooLarge(f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    spilled: Path | None = None
    handle = None
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise EnvelopeTooLarge(f"body larger than {limit} bytes")
            if handle is not None:
                handle.write(chunk)
                continue
            chunks.append(chunk)
            if size > INLINE_BYTES:
                spilled = spill_path(spill_dir)
                handle = open(spilled, "xb")  # noqa: SIM115 - closed below
                handle.writelines(chunks)
                chunks = []
    except BaseException:
        if handle is not None:
            handle.close()
            handle = None
        if spilled is not None:
            spilled.unlink(missing_ok=True)
        raise
    finally:
        if handle is not None:
            handle.close()
    return spilled if spilled is not None else b"".join(chunks)


#: Where registries deliver their notification envelopes.
PATH = "/ingest/v1/registry/events"


@router.post(
    PATH,
    operation_id="postRegistryEvents",
    response_model=IngestReport,
    responses={
        400: {"model": ErrorDetail, "description": "Not JSON, or not a notification envelope."},
        401: {"model": ErrorDetail, "description": "Missing or invalid ingest token."},
        413: {
            "model": ErrorDetail,
            "description": "Body larger than the configured limit, or more events than allowed.",
        },
        415: {
            "model": ErrorDetail,
            "description": "Not a notification media type, or a compressed body.",
        },
        503: {
            "model": ErrorDetail,
            "description": "The envelope could not be parsed or stored; retry.",
        },
    },
    summary="Receive a registry notification envelope",
    openapi_extra={"requestBody": _ENVELOPE_BODY},
)
async def receive_events(
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    # documents the scheme; the token is read from the request itself, as DirectIngest does
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    return await receive_envelope(state, request)


async def receive_envelope(state: AppState, request: Request) -> Response:
    """The whole answer to a delivery, for the route above and for :class:`DirectIngest`."""
    refused = await _authorize(state, bearer_token(request.headers.get("authorization")))
    if refused is not None:
        return refused
    # every coding of every Content-Encoding header: one header may list several, and a
    # request may repeat the header
    codings = [
        coding.strip().lower()
        for header in request.headers.getlist("content-encoding")
        for coding in header.split(",")
    ]
    coding = next((coding for coding in codings if coding not in ("", "identity")), None)
    if coding is not None:
        # registries send notifications uncompressed; a compressed body would be read as JSON
        # (a 400 about a byte 0x8b) and a gzip body's size is no bound on its content's
        return _refusal(
            415,
            f"Content-Encoding {coding[:40]!r} is not taken: send the envelope uncompressed",
            {"Accept-Encoding": "identity"},
        )
    try:
        check_media_type(request.headers.get("content-type"))
        settings = state.runtime.settings
        body = await _read_body(request, settings.ingest_max_body_bytes, settings.paths.tmp)
    except InvalidEnvelope as error:
        return _refusal(refusal_status(error), str(error))
    except OSError as error:  # spilling a large body to tmp/
        return _not_stored(error)
    try:
        delivery = await state.envelopes.parse(body, now_micros())
    finally:
        if isinstance(body, Path):
            body.unlink(missing_ok=True)
    if isinstance(delivery, Refusal):
        return _refusal(delivery.status_code, delivery.detail)
    if delivery.lines:
        try:
            await state.spool.append_async(delivery.lines)
        except OSError as error:
            return _not_stored(error)
    counter = state.metrics.ingested
    counter.labels("accepted", "manifest_request").inc(delivery.accepted)
    for reason, count in delivery.ignored.items():
        counter.labels("ignored", reason).inc(count)
    for reason, count in delivery.rejected.items():
        counter.labels("rejected", reason).inc(count)
    return Response(delivery.report, media_type="application/json")


def _not_stored(error: OSError) -> Response:
    """The answer to a delivery the data dir could not take (a full disk, a folder gone): 503,
    which the registry retries, and one line in the log (the path, the operator's to fix)."""
    log.error("ingest: the envelope cannot be stored: %s", error)
    reason = error.strerror or type(error).__name__
    return _refusal(503, f"the envelope cannot be stored now ({reason}): retry later")


class DirectIngest:
    """Deliveries straight to :func:`receive_envelope`, in front of the router.

    A registry sends one event per request, one request at a time, so what a request costs
    besides the fsync bounds how many events a registry can deliver per second. The route's
    parameters are only the request and the app state, so routing and dependency solving
    (about a third of the server's time per delivery) buy nothing here; the route stays for
    the OpenAPI document, and metrics still count deliveries under it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # the route object the router would have matched, for the metrics' route label
        self._route = next(r for r in router.routes if getattr(r, "path", None) == PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH:
            state: AppState | None = getattr(scope["app"].state, "pullstats", None)
            if state is not None:
                scope["route"] = self._route
                response = await receive_envelope(state, Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
