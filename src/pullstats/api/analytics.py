"""The DVP Data API routes under ``/api/publisher/analytics/v1`` (thin: parse, ask, answer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from pullstats.api.auth import UNAUTHORIZED, Viewer, current_viewer
from pullstats.api.models import NamespaceData, PullData, PullModel
from pullstats.api.state import AppState, app_state
from pullstats.rollups.series import Group, RelativePeriod, SeriesQuery, Timespan, namespace_series

PREFIX = "/api/publisher/analytics/v1"
router = APIRouter(prefix=PREFIX, tags=["namespaces"], responses=UNAUTHORIZED)

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such namespace, or no permission to read it."}
}


def series_query(
    timespan: Annotated[Timespan, Query(description="Period length.")] = Timespan.MONTHS,
    period: Annotated[
        RelativePeriod, Query(description="Window of complete months before the current one.")
    ] = RelativePeriod.LAST_12_MONTHS,
    group: Annotated[Group, Query(description="One row per period, or per repository.")] = (
        Group.NAMESPACE
    ),
    current: Annotated[
        bool, Query(description="Append the current, incomplete period, marked partial.")
    ] = False,
) -> SeriesQuery:
    return SeriesQuery(timespan=timespan, period=period, group=group, current=current)


def readable(viewer: Viewer, namespace: str) -> str:
    """The namespace if the viewer may read it; otherwise 404, as if it did not exist."""
    if namespace not in viewer.namespaces:
        raise HTTPException(404, detail=f"namespace {namespace!r} not found")
    return namespace


@router.get(
    "/namespaces/{namespace}/pulls",
    response_model=PullData,
    response_model_exclude_none=True,
    responses=NOT_FOUND,
    summary="Pull counts of a namespace",
)
def namespace_pulls(
    namespace: str,
    query: Annotated[SeriesQuery, Depends(series_query)],
    viewer: Annotated[Viewer, Depends(current_viewer)],
    state: Annotated[AppState, Depends(app_state)],
) -> PullData:
    readable(viewer, namespace)
    today = datetime.now(UTC).date()
    with state.runtime.sessions() as session:
        rows = namespace_series(session, namespace, query, today)
    return PullData(pulls=[PullModel(**row) for row in rows])


@router.get(
    "/",
    response_model=NamespaceData,
    tags=["discovery"],
    summary="Namespaces the caller may read",
)
def discovery(viewer: Annotated[Viewer, Depends(current_viewer)]) -> NamespaceData:
    return NamespaceData(namespaces=list(viewer.namespaces))
