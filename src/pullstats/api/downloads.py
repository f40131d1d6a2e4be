"""Signed downloads of export files: streamed from the data dir, with Range support and HEAD.

Any problem with a link — a changed signature, another file's signature, an expired link, a
file since replaced by a re-export — is 403, so a link reveals nothing beyond its own file. A
valid link whose file is gone from the disk (deleted by hand, a lost volume) is 410 with a
warning in the log, never a 500.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from pullstats.api.state import AppState, app_state, request_versions
from pullstats.db.state import CatalogVersions
from pullstats.exports.signing import check
from pullstats.signing_keys import FIRST_KID

router = APIRouter(tags=["downloads"])
logger = logging.getLogger(__name__)

#: files up to this size are read whole in one thread-pool call; larger ones are streamed
WHOLE_READ_BYTES = 1 << 20
#: where the signed links point (a route of its own answers their HEAD)
PREFIX = "/downloads/"


#: A download is asked for without ``Authorization`` (the link's signature is the credential),
#: so a shared cache could keep it and serve it past the link's expiry, or after the period is
#: exported again; a file is fetched once anyway.
_NOT_STORED = {"Cache-Control": "private, no-store"}


@router.get(
    PREFIX + "{file_id}/{file_name}",
    operation_id="getDownload",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/gzip": {}}, "description": "The gzip CSV part."},
        403: {"description": "Invalid, expired or replaced link."},
        307: {"description": "Exports on object storage: a presigned URL of the file."},
        410: {"description": "The file of a valid link is no longer on the server's disk."},
    },
    summary="Download one export file through a signed link",
)
async def download(
    file_id: int,
    file_name: str,
    expires: Annotated[int, Query(description="Expiry, seconds since the epoch.")],
    signature: Annotated[str, Query(description="HMAC of the link.")],
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    versions: Annotated[CatalogVersions, Depends(request_versions)],
    kid: Annotated[str, Query(description="The signing key's id (absent: the first key).")] = (
        FIRST_KID
    ),
) -> Response:
    # the catalog row from the cache of this exports epoch (api/export_catalog.py): a hit
    # never leaves the event loop
    entry = await state.export_catalog.file(file_id, versions.exports_epoch)
    # compare_digest refuses non-ASCII text, and no signature we issue has any
    bad = entry is None or entry.file_name != file_name or not signature.isascii()
    problem = "invalid signature" if bad else None
    key = state.download_keys.verifying_key(kid)
    if key is None:  # never issued, or retired longer ago than any link lives
        problem = "invalid signature"
    if entry is not None and key is not None and problem is None:
        problem = check(key.secret, file_id, entry.sha256, expires, signature)
    if entry is None or problem is not None:
        raise HTTPException(403, detail=problem or "invalid signature")
    store = state.runtime.settings.exports_store
    lifetime = int(state.runtime.settings.download_link_lifetime.total_seconds())
    presigned = store.presign(entry.path, lifetime, entry.file_name)
    if presigned is not None:  # exports on object storage: the store serves the bytes
        return RedirectResponse(presigned, status_code=307, headers=_NOT_STORED)
    local = store.local_path(entry.path)
    if local is None:  # neither presigned nor local: not a store this server can serve from
        logger.warning("export file %d (%s) has no local path", file_id, entry.path)
        raise HTTPException(410, detail="export file no longer available")
    path = local
    asked = request.headers.get("range")
    ranged = asked is not None and usable_range(asked)
    # a small file whole, with its size, in one trip to the thread pool; FileResponse would take
    # four (open, two reads, close) and the disk stays off the event loop either way
    whole = request.method == "GET" and not ranged

    def read() -> tuple[os.stat_result, bytes | None]:
        stat = os.stat(path)  # FileResponse's own check would raise: a 500
        if not whole or stat.st_size > WHOLE_READ_BYTES:
            return stat, None
        with open(path, "rb") as file:
            return stat, file.read()

    try:
        stat, data = await run_in_threadpool(read)
    except OSError:
        # the catalog names it, the disk lost it: the operator's problem, not the client's
        logger.warning("export file %d (%s) is missing from the data dir", file_id, entry.path)
        raise HTTPException(410, detail="export file no longer available") from None
    streamed = (FileResponse if ranged or asked is None else _WithoutRange)(
        path,
        stat_result=stat,
        media_type="application/gzip",
        filename=entry.file_name,
        content_disposition_type="attachment",
        headers=_NOT_STORED,
    )
    if data is None or len(data) != stat.st_size:  # large, ranged, HEAD (or changed meanwhile)
        return streamed
    return Response(data, headers=streamed.headers)  # the same headers: length, ETag, name


#: a ``Range`` of byte ranges (RFC 9110 14.1.2): ``first-last``, ``first-`` or ``-suffix``
_BYTE_RANGES = re.compile(r"bytes=\s*(\d*-\d*)(\s*,\s*\d*-\d*)*\s*", re.ASCII)
#: Starlette's bound on the ranges of one request
_MOST_RANGES = 100


def usable_range(header: str) -> bool:
    """Whether ``header`` asks for byte ranges that are well formed (each ``first`` ≤
    ``last``, some number on each side of ``-``). Any other ``Range`` is ignored and the file
    sent whole (RFC 9110 14.2: a unit the server does not know MUST be, an invalid one may
    be): Starlette answered those with a 400 in plain text, outside the JSON of every other
    answer here. A well-formed range past the end of the file is still a 416."""
    if not _BYTE_RANGES.fullmatch(header):
        return False
    specs = [spec.strip() for spec in header.split("=", 1)[1].split(",")]
    if len(specs) > _MOST_RANGES:
        return False
    for spec in specs:
        first, last = spec.split("-")
        if not first and not last:
            return False
        if first and last and int(first) > int(last):
            return False
    return True


class _WithoutRange(FileResponse):
    """A ``FileResponse`` that answers as if the request had no ``Range``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(name, value) for name, value in scope["headers"] if name != b"range"]
        await super().__call__({**scope, "headers": headers}, receive, send)


# HEAD: download managers ask for the size and name first; FileResponse answers it with GET's
# headers and no body. Left out of the OpenAPI document, which would list a second operation.
router.add_api_route(
    PREFIX + "{file_id}/{file_name}",
    download,
    methods=["HEAD"],
    response_class=FileResponse,
    include_in_schema=False,
)
