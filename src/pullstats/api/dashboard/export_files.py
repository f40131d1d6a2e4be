"""``GET /exports/files/{file_id}/{file_name}``: where the exports page's download buttons point.

A signed link expires (``PULLSTATS_DOWNLOAD_LINK_LIFETIME``, 15 minutes by default) while the
page that shows it may stay open for hours: a button that embedded one then gave a failed
download, or the raw 403 JSON of ``/downloads/…``. Each button points here instead: the session
is checked (the file's namespace must be one of the viewer's, as the page's own), and the answer
is a 303 to a link signed now, by the API's own ``file_links`` (``api/exports_api.py``): the
local ``/downloads/…`` route, or the object store's presigned URL. A file that is not the
viewer's, or not there, is 404 either way: the route never tells which.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from pullstats.api.dashboard.session import page_viewer
from pullstats.api.export_catalog import FileEntry
from pullstats.api.exports_api import file_links
from pullstats.api.state import AppState, app_state, request_versions
from pullstats.api.viewer import Viewer
from pullstats.db.state import CatalogVersions

router = APIRouter(include_in_schema=False)

#: the page's address of a file: its buttons' ``href``
PATH = "/exports/files/{file_id}/{file_name}"
NOT_YOURS = "No such export file among yours."


def file_path(entry: FileEntry) -> str:
    """The page's link to ``entry``."""
    return PATH.format(file_id=entry.id, file_name=quote(entry.file_name, safe=""))


@router.get(PATH)
async def export_file(
    request: Request,
    file_id: str,
    file_name: str,
    viewer: Annotated[Viewer, Depends(page_viewer)],
    state: Annotated[AppState, Depends(app_state)],
    versions: Annotated[CatalogVersions, Depends(request_versions)],
) -> Response:
    entry = await _readable_file(state, versions, viewer, file_id, file_name)
    if entry is None:
        raise HTTPException(404, detail=NOT_YOURS)
    (link,) = file_links(state, request, [entry])
    # the link is a credential for its lifetime: kept by no cache, as the downloads themselves
    return RedirectResponse(link.url, status_code=303, headers={"Cache-Control": "no-store"})


async def _readable_file(
    state: AppState, versions: CatalogVersions, viewer: Viewer, file_id: str, file_name: str
) -> FileEntry | None:
    """The export file of ``file_id`` named ``file_name``, when its namespace is one the viewer
    is a member of (never through an extra repo: as the exports page and API), else None.
    The row comes from the API's cache of this exports epoch, as a download's does."""
    if not (file_id.isascii() and file_id.isdigit() and len(file_id) <= 10):
        return None
    entry = await state.export_catalog.file(int(file_id), versions.exports_epoch)
    if entry is None or entry.file_name != file_name:
        return None
    return entry if viewer.may_read_namespace(entry.namespace) else None
