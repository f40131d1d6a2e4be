"""The DVP export routes: years, weeks or months, one period's metadata, and its download links.

Only closed periods exported with data for the namespace are listed (docs/exports.md); anything
else — incomplete, empty, or week 53 of a 52-week year — is 404, and a week outside 1–53 or a
month outside 1–12 is 422.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from pydantic import BaseModel

from pullstats.api.analytics import NOT_FOUND, PREFIX, SeriesRequest, readable, series_request
from pullstats.api.auth import UNAUTHORIZED
from pullstats.api.cache import cached_json, exports_version, utc_day
from pullstats.api.dvp_models import (
    MonthData,
    MonthModel,
    ResponseData,
    ResponseDataFile,
    WeekData,
    WeekModel,
    YearData,
    YearModel,
)
from pullstats.api.export_catalog import FileEntry
from pullstats.api.state import AppState
from pullstats.exports.catalog import periods_in_year, years_with_data
from pullstats.exports.reports import REPORT_FILES, ReportDataset, ReportView
from pullstats.exports.signing import sign
from pullstats.exports.views import Dataview
from pullstats.periods import Period, PeriodKind
from pullstats.rollups.series_query import Timespan

router = APIRouter(
    prefix=f"{PREFIX}/namespaces/{{namespace}}/pulls/exports",
    tags=["namespaces"],
    responses=UNAUTHORIZED,
)

INVALID: dict[int | str, dict[str, Any]] = {
    422: {"description": "A week outside 1–53, a month outside 1–12, or a malformed value."}
}

Year = Annotated[int, Path(description="Calendar year (ISO year for weeks).", ge=1, le=9999)]


def _period(timespantype: Timespan, year: int, timespan: int) -> Period | None:
    """The period named in a path, None if there is no such period; 422 if out of range."""
    limit = 53 if timespantype is Timespan.WEEKS else 12
    if not 1 <= timespan <= limit:
        raise HTTPException(422, detail=f"{timespantype.value[:-1]} must be between 1 and {limit}")
    try:
        if timespantype is Timespan.WEEKS:
            return Period.week(year, timespan)
        return Period.month(year, timespan)
    except ValueError:  # week 53 of a year that has 52
        return None


async def _listing(call: SeriesRequest, body: BaseModel) -> Response:
    """A listing's JSON with its ETag, kept in the answer cache under the viewer's scope and
    the exports epoch: its repeats are answered before routing (api/cached_answers.py), as
    the series are. A listing depends on nothing else (the 404s and 422s are never cached)."""
    return await cached_json(
        call.request,
        call.state.responses,
        call.viewer.cache_scope,
        exports_version(call.versions.exports_epoch),
        utc_day(),
        lambda: body.model_dump_json().encode(),
    )


async def listed_periods(call: SeriesRequest, namespace: str, report: str | None) -> list[Period]:
    """The exported periods of ``namespace``, oldest first (the listings' one source), from
    the cache of the request's exports epoch; with ``report``, those that have that report.
    The caller has checked that the viewer may read the namespace."""
    epoch = call.versions.exports_epoch
    return list(await call.state.export_catalog.periods(namespace, epoch, report))


async def _years(call: SeriesRequest, namespace: str, report: str | None) -> Response:
    periods = await listed_periods(call, namespace, report)
    answer = YearData(years=[YearModel(year=y) for y in years_with_data(periods)])
    return await _listing(call, answer)


async def _timespans(
    call: SeriesRequest, namespace: str, report: str | None, year: int, timespantype: Timespan
) -> Response:
    periods = await listed_periods(call, namespace, report)
    numbers = periods_in_year(periods, timespantype.kind, year)
    answer: BaseModel = MonthData(months=[MonthModel(month=n) for n in numbers])
    if timespantype is Timespan.WEEKS:
        answer = WeekData(weeks=[WeekModel(week=n) for n in numbers])
    return await _listing(call, answer)


async def _exported(
    call: SeriesRequest, namespace: str, report: str | None, period: Period | None
) -> Period:
    if period is None or period not in await listed_periods(call, namespace, report):
        raise HTTPException(404, detail="no exported data for that period")
    return period


async def _timespan(
    call: SeriesRequest, namespace: str, report: str | None, period: Period | None
) -> Response:
    period = await _exported(call, namespace, report, period)
    answer: BaseModel = MonthModel(month=period.number)
    if period.kind is PeriodKind.WEEK:
        answer = WeekModel(week=period.number)
    return await _listing(call, answer)


#: an answer of signed links holds credentials (each link downloads its file until it
#: expires): kept by no cache, the client's included
NOT_STORED = "no-store"


async def _links(
    call: SeriesRequest,
    namespace: str,
    report: str | None,
    period: Period | None,
    file: str,
    response: Response,
) -> ResponseData:
    response.headers["Cache-Control"] = NOT_STORED
    period = await _exported(call, namespace, report, period)
    epoch = call.versions.exports_epoch
    files = await call.state.export_catalog.view(namespace, period, file, epoch)
    return ResponseData(data=file_links(call.state, call.request, files))


#: What every export route needs besides its path: the request, the app, the viewer and the
#: catalog versions it was answered at.
Call = Annotated[SeriesRequest, Depends(series_request)]


@router.get(
    "/years",
    operation_id="getNamespaceYears",
    response_model=YearData,
    responses=NOT_FOUND,
    summary="Years that have exported data",
)
async def years(namespace: str, call: Call) -> Response:
    readable(call.viewer, namespace)
    return await _years(call, namespace, None)


@router.get(
    "/years/{year}/{timespantype}",
    operation_id="getNamespaceTimespans",
    response_model=MonthData | WeekData,
    responses={**NOT_FOUND, **INVALID},
    summary="Months or weeks of a year that have exported data",
)
async def timespans(namespace: str, year: Year, timespantype: Timespan, call: Call) -> Response:
    readable(call.viewer, namespace)
    return await _timespans(call, namespace, None, year, timespantype)


@router.get(
    "/years/{year}/{timespantype}/{timespan}",
    operation_id="getNamespaceTimespanMetadata",
    response_model=MonthModel | WeekModel,
    responses={**NOT_FOUND, **INVALID},
    summary="One exported month or week",
)
async def timespan_metadata(
    namespace: str, year: Year, timespantype: Timespan, timespan: int, call: Call
) -> Response:
    readable(call.viewer, namespace)
    period = _period(timespantype, year, timespan)
    return await _timespan(call, namespace, None, period)


@router.get(
    "/years/{year}/{timespantype}/{timespan}/{dataview}",
    operation_id="getNamespaceDataByTimespan",
    response_model=ResponseData,
    responses={**NOT_FOUND, **INVALID},
    summary="Signed download links of one view of an exported month or week",
)
async def dataview_links(
    namespace: str,
    year: Year,
    timespantype: Timespan,
    timespan: int,
    dataview: Dataview,
    call: Call,
    response: Response,
) -> ResponseData:
    readable(call.viewer, namespace)
    period = _period(timespantype, year, timespan)
    return await _links(call, namespace, None, period, dataview.value, response)


# Docker's DVP Core reports (exports/reports.py), a pullstats extension: the same four routes
# and answers under /namespaces/{ns}/{dataset}/exports, for the report datasets. The pulls
# routes above are matched first; any other dataset is a 422 naming the allowed ones.

report_router = APIRouter(
    prefix=f"{PREFIX}/namespaces/{{namespace}}/{{dataset}}/exports",
    tags=["reports"],
    responses=UNAUTHORIZED,
)

ReportParam = Annotated[
    ReportDataset,
    Path(description="A report dataset (pullstats extension: docs/reports.md)."),
]
ReportViewParam = Annotated[ReportView, Path(description="A report dataset's one view.")]


@report_router.get(
    "/years",
    operation_id="getNamespaceDatasetYears",
    response_model=YearData,
    responses={**NOT_FOUND, **INVALID},
    summary="Years that have exported reports of a dataset",
)
async def report_years(namespace: str, dataset: ReportParam, call: Call) -> Response:
    readable(call.viewer, namespace)
    return await _years(call, namespace, REPORT_FILES[dataset].value)


@report_router.get(
    "/years/{year}/{timespantype}",
    operation_id="getNamespaceDatasetTimespans",
    response_model=MonthData | WeekData,
    responses={**NOT_FOUND, **INVALID},
    summary="Months or weeks of a year that have exported reports of a dataset",
)
async def report_timespans(
    namespace: str, dataset: ReportParam, year: Year, timespantype: Timespan, call: Call
) -> Response:
    readable(call.viewer, namespace)
    return await _timespans(call, namespace, REPORT_FILES[dataset].value, year, timespantype)


@report_router.get(
    "/years/{year}/{timespantype}/{timespan}",
    operation_id="getNamespaceDatasetTimespanMetadata",
    response_model=MonthModel | WeekModel,
    responses={**NOT_FOUND, **INVALID},
    summary="One month or week that has an exported report of a dataset",
)
async def report_timespan_metadata(
    namespace: str,
    dataset: ReportParam,
    year: Year,
    timespantype: Timespan,
    timespan: int,
    call: Call,
) -> Response:
    readable(call.viewer, namespace)
    period = _period(timespantype, year, timespan)
    return await _timespan(call, namespace, REPORT_FILES[dataset].value, period)


@report_router.get(
    "/years/{year}/{timespantype}/{timespan}/{dataview}",
    operation_id="getNamespaceDatasetDataByTimespan",
    response_model=ResponseData,
    responses={**NOT_FOUND, **INVALID},
    summary="Signed download links of one exported report",
)
async def report_links(
    namespace: str,
    dataset: ReportParam,
    year: Year,
    timespantype: Timespan,
    timespan: int,
    dataview: ReportViewParam,
    call: Call,
    response: Response,
) -> ResponseData:
    readable(call.viewer, namespace)
    period = _period(timespantype, year, timespan)
    report = REPORT_FILES[dataset].value
    return await _links(call, namespace, report, period, report, response)


def file_links(
    state: AppState, request: Request, files: Sequence[FileEntry]
) -> list[ResponseDataFile]:
    """A download link for each of ``files``, in their order: presigned by the exports' object
    store, else signed with the download key for ``/downloads/…``: what the dataview route
    answers and the dashboard's exports page shows. Each carries the file's size and its
    SHA-256 (a pullstats extension: the client checks its download against it, docs/client.md).
    The caller has checked that the viewer may read their namespace."""
    # behind a TLS proxy the request's own base URL is the proxy's upstream, not the public one
    base = (state.runtime.settings.public_url or str(request.base_url)).rstrip("/")
    lifetime = int(state.runtime.settings.download_link_lifetime.total_seconds())
    data = []
    key = state.download_keys.signing_key()
    store = state.runtime.settings.exports_store
    for entry in files:
        # exports on object storage: the store's own presigned URL, downloaded without us
        url = store.presign(entry.path, lifetime, entry.file_name)
        if url is None:
            grant = sign(key, entry.id, entry.sha256, lifetime)
            url = f"{base}/downloads/{entry.id}/{entry.file_name}?{grant.query()}"
        data.append(ResponseDataFile(url=url, size=entry.size, sha256=entry.sha256))
    return data
