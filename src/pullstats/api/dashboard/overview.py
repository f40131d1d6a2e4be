"""``/``: the signed-in landing page. A placeholder until the overview (issue 17) replaces it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pullstats.api.dashboard.session import page_viewer
from pullstats.api.dashboard.templating import render
from pullstats.api.viewer import Viewer

router = APIRouter(include_in_schema=False)


@router.get("/")
async def overview(request: Request, viewer: Annotated[Viewer, Depends(page_viewer)]) -> Response:
    return render(request, "overview.html")
