"""``GET …/namespaces/{namespace}/trends``: pulls and users by client country, cloud, tool,
client category, use case, repository and tag, per week or month (a pullstats extension; the
series of Docker's Trends report, docs/reports.md).

Read from ``trend_rollups`` (rollups/trend_series.py), cached and answered like the pull
series: an ETag per answer, a 304 for a repeat, 404 for a namespace the caller may not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy.orm import Session

from pullstats.api.analytics import (
    NOT_FOUND,
    PREFIX,
    SeriesRequest,
    readable,
    series_request,
    today_utc,
)
from pullstats.api.auth import UNAUTHORIZED
from pullstats.api.models import Omitted
from pullstats.client_categories import ClientCategory, UnknownCategory, categories_named
from pullstats.rollups.series_query import RelativePeriod, Timespan
from pullstats.rollups.trend_series import (
    TooManyRows,
    TrendsQuery,
    TrendsWindowError,
    trend_series,
    trends_window,
)
from pullstats.rollups.trends import DIMENSIONS, UnknownGrouping, grouping_of

router = APIRouter(prefix=PREFIX, responses=UNAUTHORIZED)

INVALID: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "An unknown or unkept `group`, an unknown `exclude` category, a "
        "`from`/`to` that names no window, or an answer past 100,000 rows."
    }
}


class TrendModel(BaseModel):
    """One row of a trends series: a period and the values of the grouping's dimensions."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(description="First second of the period, e.g. 2026-10-01T00:00:00Z.")
    end: str = Field(description="Last second of the period, e.g. 2026-10-31T23:59:59Z.")
    namespace: str
    repo: str | Omitted = Field(None, description="Repository, without its namespace.")
    tag: str | Omitted = Field(None, description="Tag; empty for pulls by digest.")
    country: str | Omitted = Field(None, description="ISO 3166-1 alpha-2 code, ZZ when unknown.")
    cloud: str | Omitted = Field(None, description="Cloud provider (aws, gcp, azure …); empty "
                                 "outside a known cloud network (Docker's `no csp`).")  # fmt: skip
    tool: str | Omitted = Field(None, description="Client tool (docker, containerd, trivy …).")
    category: str | Omitted = Field(None, description="The tool's client category.")
    useCase: str | Omitted = Field(
        None, description="Inferred use case: Local Dev, CI/CD, Prod or Unknown."
    )
    dataDownloads: int = Field(description="Pulls by tag and by digest (Docker's downloads).")
    versionChecks: int = Field(description="Version checks.")
    pulls: int = Field(description="dataDownloads + versionChecks (Docker's PULLS).")
    uniqueAuthenticatedUsers: int = Field(description="Distinct signed-in users.")
    uniqueUnauthenticatedUsers: int = Field(
        description="Distinct addresses of the requests without a user."
    )
    partial: bool | Omitted = Field(None, description="Present and true on the current period.")


class TrendsData(BaseModel):
    trends: list[TrendModel]


def _day_text(value: object) -> object:
    """A day as the docs write it, ``YYYY-MM-DD``, and nothing else pydantic would take for
    one: ``from=1764979200`` was a Unix time, ``from=0`` 1970-01-01 (then refused as a span of
    too many days), ``from=20260101`` a time that is no midnight."""
    if isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError(f"{value[:40]!r} is not a day: write it YYYY-MM-DD")
    return value


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
#: a query's day: ``YYYY-MM-DD`` only
Day = Annotated[date, BeforeValidator(_day_text)]


@dataclass(frozen=True)
class TrendsParams:
    """The route's query as sent; checked (:func:`checked`) once the namespace is known to be
    readable, so a namespace the caller may not read is a 404 whatever the query."""

    timespan: Timespan
    period: RelativePeriod
    group: list[str]
    current: bool
    first: date | None
    last: date | None
    exclude: list[str]

    def checked(self, today: date) -> TrendsQuery:
        """The query, or a 422 naming what is wrong with it."""
        asked = [part.strip() for value in self.group for part in value.split(",")]
        try:
            grouping = grouping_of(part for part in asked if part)
        except UnknownGrouping as error:
            raise HTTPException(422, detail=str(error)) from None
        try:
            exclude = categories_named(self.exclude)
        except UnknownCategory as error:
            raise HTTPException(422, detail=str(error)) from None
        query = TrendsQuery(
            self.timespan, self.period, grouping, self.current, self.first, self.last, exclude
        )
        try:
            trends_window(query, today)
        except TrendsWindowError as error:
            raise HTTPException(422, detail=str(error)) from None
        return query


async def trends_params(
    timespan: Annotated[Timespan, Query(description="Period length.")] = Timespan.MONTHS,
    period: Annotated[
        RelativePeriod,
        Query(description="Window of complete months before the current one (without from)."),
    ] = RelativePeriod.LAST_12_MONTHS,
    group: Annotated[
        list[str] | None,
        Query(
            description=f"Dimensions to split by ({', '.join(DIMENSIONS)}): repeated or "
            "comma-separated. Any combination without tag; tag with repo and category only, "
            "or with repo, country, cloud and tool together (Docker's Trends report). A tag "
            "is always a repository's."
        ),
    ] = None,
    current: Annotated[
        bool, Query(description="Append the current, incomplete period, marked partial.")
    ] = False,
    first: Annotated[
        Day | None,
        Query(alias="from", description="The periods starting on or after this day (YYYY-MM-DD)."),
    ] = None,
    last: Annotated[
        Day | None,
        Query(alias="to", description="… and on or before this day (default: today)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        Query(
            description="Client categories to leave out, e.g. scanner,bot: repeated or "
            f"comma-separated ({', '.join(c.value for c in ClientCategory)}). Their pulls "
            "are not counted, nor their users, unless they also pulled with another client; a "
            "series of those clients alone is not shown."
        ),
    ] = None,
) -> TrendsParams:
    return TrendsParams(timespan, period, group or [], current, first, last, exclude or [])


@router.get(
    "/namespaces/{namespace}/trends",
    operation_id="getNamespaceTrends",
    response_model=TrendsData,
    response_model_exclude_none=True,
    responses={**NOT_FOUND, **INVALID},
    tags=["reports"],
    summary="Pulls and users of a namespace by country, cloud, client and repository",
)
async def namespace_trends(
    namespace: str,
    params: Annotated[TrendsParams, Depends(trends_params)],
    series: Annotated[SeriesRequest, Depends(series_request)],
) -> Response:
    readable(series.viewer, namespace)
    today = today_utc()
    query = params.checked(today)
    scope = series.viewer.scope(namespace)

    def build(session: Session) -> TrendsData:
        try:
            rows = trend_series(session, scope, query, today)
        except TooManyRows as error:  # never cached: the 422 is raised, not answered
            raise HTTPException(422, detail=str(error)) from None
        return TrendsData(trends=[TrendModel(**row) for row in rows])

    return await series.answer(build)
