"""``/exports``: every exported week and month of a namespace, each view's parts and links.

``Server-Timing`` carries the handler's time (the benchmark reads it). The periods come from
the catalog read the DVP export routes use (``exports.catalog``), so the page lists exactly what
the DVP export routes answer (the ``pulls`` views, then the reports of
``/namespaces/{ns}/{dataset}/exports``); the periods and the files of all the periods shown are
read in one session, the files in one query (``exports.catalog.period_files``). Its buttons
point at ``/exports/files/…`` (:mod:`.export_files`), which signs a link when one is clicked
(the API's own ``file_links``: what the dataview routes link to), so a page left open does not
outlive its links.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pullstats.api.dashboard.export_files import file_path
from pullstats.api.dashboard.namespaces import NOT_YOURS, NotYours, chosen_namespace
from pullstats.api.dashboard.query_checks import BadView, one_value, only_known
from pullstats.api.dashboard.session import page_viewer
from pullstats.api.dashboard.templating import render, server_timed
from pullstats.api.export_catalog import FileEntry
from pullstats.api.state import AppState, app_state
from pullstats.api.viewer import Viewer
from pullstats.db.models import ExportFile
from pullstats.exports.catalog import exported_periods, period_files, years_with_data
from pullstats.exports.reports import EXPORT_FILES, ExportKind, ReportFile
from pullstats.exports.views import Dataview
from pullstats.periods import Period, PeriodKind

router = APIRouter(include_in_schema=False)

VIEW_NAMES = {
    Dataview.RAW: "Raw (one row per pull)",
    Dataview.SUMMARY: "Summary by tag and digest",
    Dataview.REPO_SUMMARY: "Summary by repository",
    Dataview.NAMESPACE_SUMMARY: "Summary of the namespace",
    ReportFile.SUMMARY_REPORT: "Docker's Summary report (repositories, tags and digests)",
    ReportFile.TRENDS_REPORT: "Docker's Trends report (by country, cloud, client and tag)",
    ReportFile.CO_USAGE_REPORT: "Co-usage: what else your users pull (Technographic)",
}


@dataclass(frozen=True)
class ViewRow:
    dataview: ExportKind
    name: str
    files: list[FileEntry]

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.files)

    @property
    def links(self) -> list[str]:
        """Each part's download button (signed when clicked: :mod:`.export_files`)."""
        return [file_path(entry) for entry in self.files]


@dataclass(frozen=True)
class PeriodRow:
    period: Period
    label: str
    span: str
    views: list[ViewRow]


def period_label(period: Period) -> str:
    if period.kind is PeriodKind.WEEK:
        return f"Week {period.number} of {period.year}"
    return period.start.strftime("%B %Y")


def _span(period: Period) -> str:
    return f"{period.start.isoformat()} to {period.end.isoformat()}"


def _year(value: str | None, years: list[int]) -> int | None:
    """The year to show: the one asked for, None for all (``all``), by default the newest
    (a year of weeks and months is 64 periods, 256 links: enough for one page); -1: not a
    year."""
    if value is None or value == "":
        return years[0] if years else None
    if value == "all":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 4 or int(value) == 0:
        return -1  # 1 to 9999, as the API's years
    return int(value)


@router.get("/exports")
async def exports_page(
    request: Request,
    viewer: Annotated[Viewer, Depends(page_viewer)],
    state: Annotated[AppState, Depends(app_state)],
) -> Response:
    began = time.perf_counter()
    return await state.render_page(lambda: _exports_page(request, viewer, state, began))


def _exports_page(request: Request, viewer: Viewer, state: AppState, began: float) -> Response:
    # the overview's checks: an unknown or repeated parameter is a 400 naming it, not ignored
    params = {name: request.query_params.getlist(name) for name in request.query_params}
    try:
        only_known(params, ("namespace", "year"))
        namespace, year = one_value(params, "namespace"), one_value(params, "year")
    except BadView as error:
        return render(
            request, "exports.html", status_code=400, namespace=None, years=[], year=None,
            rows=[], error=str(error),
        )  # fmt: skip
    try:
        chosen = chosen_namespace(viewer, namespace)
    except NotYours:
        return render(
            request, "exports.html", status_code=404, namespace=None, years=[], year=None,
            rows=[], error=NOT_YOURS,
        )  # fmt: skip
    files: dict[tuple[Period, str], list[ExportFile]] = {}
    with state.runtime.sessions() as session:
        periods = exported_periods(session, chosen) if chosen else []
        years = sorted(years_with_data(periods), reverse=True)
        wanted = _year(year, years)
        shown = [p for p in periods if wanted is None or p.year == wanted]
        if chosen and wanted != -1:
            files = period_files(session, chosen, shown)
    if wanted == -1:
        return render(
            request, "exports.html", status_code=400, namespace=chosen, years=years,
            choices=years, year=None, rows=[],
            error=f"{year!r} is not a year: pick one from the list",
        )  # fmt: skip
    rows = [
        PeriodRow(
            period,
            period_label(period),
            _span(period),
            [
                ViewRow(
                    view,
                    VIEW_NAMES[view],
                    [FileEntry.of(f) for f in files.get((period, view), [])],
                )
                for view in EXPORT_FILES
            ],
        )
        for period in sorted(shown, key=lambda p: (p.start, p.kind.value), reverse=True)
    ]
    # a year asked for that has no exports is still the one shown: the Year select says so
    choices = sorted({*years, wanted} if wanted is not None else years, reverse=True)
    page = render(
        request, "exports.html", namespace=chosen, years=years, choices=choices, year=wanted,
        rows=rows, error=None,
    )  # fmt: skip
    return server_timed(page, began)
