"""Signed downloads of export files: streamed from the data dir, with Range support and HEAD.

Any problem with a link — a changed signature, another file's signature, an expired link, a
file since replaced by a re-export — is 403, so a link reveals nothing beyond its own file.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse

from pullstats.api.state import AppState, app_state
from pullstats.db.models import ExportFile
from pullstats.exports.signing import check
from pullstats.signing_keys import FIRST_KID

router = APIRouter(tags=["downloads"])

_MAX_FILE_ID = 2**63 - 1


@router.get(
    "/downloads/{file_id}/{file_name}",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/gzip": {}}, "description": "The gzip CSV part."},
        403: {"description": "Invalid, expired or replaced link."},
    },
    summary="Download one export file through a signed link",
)
def download(
    file_id: int,
    file_name: str,
    expires: Annotated[int, Query(description="Expiry, seconds since the epoch.")],
    signature: Annotated[str, Query(description="HMAC of the link.")],
    state: Annotated[AppState, Depends(app_state)],
    kid: Annotated[str, Query(description="The signing key's id (absent: the first key).")] = (
        FIRST_KID
    ),
) -> FileResponse:
    entry = None
    if 0 < file_id <= _MAX_FILE_ID:  # a larger id cannot be bound to SQL: no such file
        with state.runtime.sessions() as session:
            entry = session.get(ExportFile, file_id)
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
    return FileResponse(
        state.runtime.paths.exports / entry.path,
        media_type="application/gzip",
        filename=entry.file_name,
        content_disposition_type="attachment",
    )


# HEAD: download managers ask for the size and name first; FileResponse answers it with GET's
# headers and no body. Left out of the OpenAPI document, which would list a second operation.
router.add_api_route(
    "/downloads/{file_id}/{file_name}",
    download,
    methods=["HEAD"],
    response_class=FileResponse,
    include_in_schema=False,
)
