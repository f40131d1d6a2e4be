"""The dashboard's own stylesheet and scripts, ``static/`` beside this module, at ``/static/``.

Only the files found there at start are served (no path from a request reaches the disk), with
a long cache life: pages name them by :func:`static_url`, whose ``?v=`` changes with the bytes.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

router = APIRouter(include_in_schema=False)

_FOLDER = Path(str(files("pullstats.api.dashboard").joinpath("static")))
_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_CACHE = {"Cache-Control": "public, max-age=86400"}


def _found() -> dict[str, tuple[Path, str, str]]:
    assets = {}
    for path in sorted(_FOLDER.iterdir()) if _FOLDER.is_dir() else []:
        media_type = _TYPES.get(path.suffix)
        if path.is_file() and media_type is not None:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            assets[path.name] = (path, media_type, digest)
    return assets


_ASSETS = _found()


def static_url(name: str) -> str:
    """``/static/NAME?v=HASH``; a name with no such file is an error (a template's typo)."""
    asset = _ASSETS.get(name)
    if asset is None:
        raise LookupError(f"no dashboard asset {name!r} in {_FOLDER}")
    return f"/static/{name}?v={asset[2]}"


@router.get("/static/{name}")
async def static_file(name: str) -> FileResponse:
    asset = _ASSETS.get(name)
    if asset is None:
        raise HTTPException(404, "Not Found")
    path, media_type, _ = asset
    return FileResponse(path, media_type=media_type, headers=_CACHE)
