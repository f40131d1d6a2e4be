"""The browser side: ``GET /`` serves the dashboard page (static HTML that calls the API)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

#: served as it is: its inline script and style are allowed by hash (api/security_headers.py)
PAGE = files("pullstats.api").joinpath("static/index.html").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
async def landing() -> HTMLResponse:
    return HTMLResponse(PAGE)
