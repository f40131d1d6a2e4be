"""``GET /``: the overview of a namespace, rendered on the server.

Thin like the API's routes: parse the view (400 with the message, or 404 for a namespace the
viewer may not read), read its numbers (:mod:`.overview_data`), draw the chart
(:mod:`.charts`), render ``overview.html``. The query string holds the whole view, so the
page's URL is its share link. ``Server-Timing`` carries the handler's time (the benchmark
reads it).
"""

from __future__ import annotations

import time
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from pullstats.api.cache import utc_day
from pullstats.api.dashboard.charts import legend_swatch, line_chart, period_label
from pullstats.api.dashboard.overview_data import (
    SCANNERS_AND_BOTS,
    TOP,
    NotReadable,
    overview,
    parse_view,
    repositories,
    view_values,
)
from pullstats.api.dashboard.query_checks import BadView
from pullstats.api.dashboard.session import page_viewer
from pullstats.api.dashboard.templating import render, server_timed
from pullstats.api.state import AppState, app_state
from pullstats.api.viewer import Viewer
from pullstats.rollups.series_query import Timespan

router = APIRouter(include_in_schema=False)

#: (dimension, heading, what an empty value means)
BREAKDOWN_TITLES = (
    ("country", "Country", "unknown"),
    ("host", "Cloud provider", "not a known cloud"),
    ("type", "Network type", "unknown"),
    ("use_case", "Use case (inferred)", "unknown"),
    ("category", "Client category", "unknown"),
    ("tool", "Client tool", "unknown client"),
    ("tool_version", "Client tool and version", "unknown client"),
)


@router.get("/", response_class=HTMLResponse)
async def overview_page(
    request: Request,
    viewer: Annotated[Viewer, Depends(page_viewer)],
    state: Annotated[AppState, Depends(app_state)],
) -> Response:
    began = time.perf_counter()
    return await state.render_page(lambda: _overview_page(request, viewer, state, began))


def _overview_page(request: Request, viewer: Viewer, state: AppState, began: float) -> Response:
    base = (state.runtime.settings.public_url or str(request.base_url)).rstrip("/")
    params = {name: request.query_params.getlist(name) for name in request.query_params}
    if not viewer.namespaces and "namespace" not in params:
        # no namespace yet, its values checked all the same; one named in the link is not
        # found, as on /exports
        try:
            view_values(params)
        except BadView as error:
            return _error_page(request, viewer, error, began)
        response = render(request, "overview.html", viewer=viewer, view=None)
        return server_timed(response, began)
    with state.runtime.sessions() as session:
        try:
            view = parse_view(viewer, params)
            choices = repositories(session, viewer, view.namespace)
            unknown = next((name for name in view.repos if name not in choices), None)
            if unknown is not None:  # one the namespace may hold, but no repository of it
                raise BadView(
                    f"repository {unknown!r} is not one of {view.namespace}'s repositories"
                )
        except (BadView, NotReadable) as error:
            return _error_page(request, viewer, error, began)
        data = overview(session, viewer, view, _today())
    weeks = view.timespan is Timespan.WEEKS
    unit = "week" if weeks else "month"
    complete = [wp for wp in data.periods if not wp.partial]
    range_label = (
        f"{period_label(complete[0].period.start_text, weeks)} to "
        f"{period_label(complete[-1].period.start_text, weeks)}"
        if complete
        else "No complete period yet"
    )
    # the toggle is on only when both its categories are left out; any others keep a box of
    # their own, checked, so that Show keeps them rather than trading them for scanner,bot
    scanners_and_bots = all(category in view.exclude for category in SCANNERS_AND_BOTS)
    leave_out = SCANNERS_AND_BOTS if scanners_and_bots else ()
    response = render(
        request,
        "overview.html",
        viewer=viewer,
        view=view,
        overview=data,
        namespaces=viewer.namespaces,
        repositories=choices,
        chart=line_chart(data.lines, metric=view.metric.label, weeks=weeks),
        swatch=legend_swatch,
        period_labels=[period_label(wp.period.start_text, weeks) for wp in data.periods],
        unit=unit,
        range_label=range_label,
        share_url=f"{base}/?{urlencode(view.params(), doseq=True)}",
        ingest_url=f"{base}/ingest/v1/registry/events",
        breakdown_titles=BREAKDOWN_TITLES,
        top=TOP,
        scanners_and_bots=SCANNERS_AND_BOTS,
        scanners_and_bots_out=scanners_and_bots,
        other_exclusions=[category for category in view.exclude if category not in leave_out],
    )
    return server_timed(response, began)


def _error_page(
    request: Request, viewer: Viewer, error: BadView | NotReadable, began: float
) -> Response:
    status = 404 if isinstance(error, NotReadable) else 400
    response = render(
        request, "overview_error.html", status_code=status, viewer=viewer, message=str(error)
    )
    return server_timed(response, began)


def _today() -> date:
    return date.fromisoformat(utc_day())
