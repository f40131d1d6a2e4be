"""Server-rendered pages: one Jinja2 environment (autoescaped), and :func:`render`.

Templates live in ``templates/`` beside this module. Every template is given ``viewer`` (the
signed-in :class:`~pullstats.api.viewer.Viewer`, or None), ``csrf_token`` (the value the forms
send back, ``forms.py``), ``path`` (the page's path) and ``static_url`` (the address of a file
of ``static/``, with its content's hash so a new release is never served from a stale cache).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from pullstats import __version__
from pullstats.api.dashboard.assets import static_url
from pullstats.api.dashboard.session import csrf_token

#: pages hold a user's private figures: never stored by a shared cache or the browser's history.
#: ``same-origin`` rather than the server's ``no-referrer``: a form POST must carry its Origin
#: (under ``no-referrer`` the browser sends ``Origin: null``), which the CSRF check reads.
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}

environment = Environment(
    loader=PackageLoader("pullstats.api.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,  # a misspelt name is an error in the tests, not a blank
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals.update(static_url=static_url, product="pullstats", version=__version__)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with the request's common context and ``context``."""
    values = {
        "request": request,
        "viewer": getattr(request.state, "viewer", None),
        "csrf_token": csrf_token(request),
        "path": request.url.path,
        **context,
    }
    body = environment.get_template(template).render(values)
    return HTMLResponse(body, status_code=status_code, headers=PAGE_HEADERS)


def server_timed(response: Response, began: float) -> Response:
    """``response`` with ``Server-Timing: app;dur=…``, the handler's time since ``began``
    (``time.perf_counter()``): what the dashboard benchmarks read."""
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - began) * 1000:.1f}"
    return response
