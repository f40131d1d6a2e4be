"""The interactive API reference at ``/docs``, served whole by this server.

Swagger UI's script and stylesheet come from the ``fastapi-offline`` package, which ships them
(nothing third-party is copied into this repository); the page and the script that starts
Swagger UI are ours, in ``static/``. The page has no inline script or style, and no request
leaves the server's origin, so it works offline and under a strict Content-Security-Policy.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(include_in_schema=False)

_PAGE = files("pullstats.api").joinpath("static/docs.html").read_text(encoding="utf-8")
_CACHE = {"Cache-Control": "public, max-age=3600"}


def _package_file(package: str, *parts: str) -> Path:
    """A file of an installed package as a path (pip installs packages as plain folders)."""
    path = Path(str(files(package).joinpath(*parts)))
    if not path.is_file():
        raise RuntimeError(f"{package} is installed without {'/'.join(parts)}")
    return path


_ASSETS = {
    "swagger-ui-bundle.js": (
        _package_file("fastapi_offline", "static", "swagger-ui-bundle.js"),
        "text/javascript",
    ),
    "swagger-ui.css": (_package_file("fastapi_offline", "static", "swagger-ui.css"), "text/css"),
    "favicon.png": (_package_file("fastapi_offline", "static", "favicon.png"), "image/png"),
    "init.js": (_package_file("pullstats.api", "static", "docs-init.js"), "text/javascript"),
}


@router.get("/docs", response_class=HTMLResponse)
async def reference_page() -> HTMLResponse:
    return HTMLResponse(_PAGE)


@router.get("/docs/{name}")
async def reference_asset(name: str) -> FileResponse:
    asset = _ASSETS.get(name)
    if asset is None:
        raise HTTPException(404, "Not Found")
    path, media_type = asset
    return FileResponse(path, media_type=media_type, headers=_CACHE)
