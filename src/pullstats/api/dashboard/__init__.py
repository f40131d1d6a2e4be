"""The dashboard: server-rendered pages (Jinja2) of the API stage, signed in by a cookie.

``router`` holds every page; :func:`install` adds it and the sign-in redirect to an app.
Pages read through the same code as the API (``api/auth.py``, ``api/exports_api.py``, the
rollups), never a query of their own; docs/dashboard.md describes them.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException

from pullstats.api.allowed_methods import every_allowed_method
from pullstats.api.dashboard import (
    account,
    account_tokens,
    assets,
    export_files,
    exports_page,
    overview,
    signin,
)
from pullstats.api.dashboard.error_pages import page_for_browsers
from pullstats.api.dashboard.forms import StaleForm
from pullstats.api.dashboard.session import SignInRequired, sign_in_again

__all__ = ["install", "router"]

router = APIRouter(include_in_schema=False)
router.include_router(assets.router)
router.include_router(signin.router)
router.include_router(overview.router)
router.include_router(exports_page.router)
router.include_router(export_files.router)
router.include_router(account.router)
router.include_router(account_tokens.router)


def install(app: FastAPI) -> None:
    """Serve the dashboard on ``app``: its pages, ``303`` to sign-in for a page that needs a
    session it does not have, to the account page for a form of an earlier session, and an
    error page, not JSON, for a browser outside the API (``error_pages.py``)."""
    app.add_exception_handler(SignInRequired, sign_in_again)
    app.add_exception_handler(
        HTTPException, every_allowed_method(page_for_browsers(http_exception_handler))
    )
    app.add_exception_handler(StaleForm, account.form_of_an_earlier_session)
    app.include_router(router)
