"""The DVP Data API's discovery and pull-series routes (thin: parse, authorise, ask, answer).

Everything a user may not read answers 404, exactly like something that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from pullstats.api.auth import UNAUTHORIZED, current_viewer
from pullstats.api.cache import cached_json, utc_day
from pullstats.api.dvp_models import (
    ALL_DATASETS,
    PULLS_DATASET,
    DatasetModel,
    NamespaceMetadata,
    ReposPullData,
)
from pullstats.api.models import NamespaceData, PullData, PullModel
from pullstats.api.state import AppState, app_state, request_versions
from pullstats.api.viewer import Viewer
from pullstats.db.models import PullRollup
from pullstats.db.state import CatalogVersions
from pullstats.names import repository_problem
from pullstats.rollups.series import namespace_series, repository_series
from pullstats.rollups.series_query import Breakdown, Group, RelativePeriod, SeriesQuery, Timespan

PREFIX = "/api/publisher/analytics/v1"
router = APIRouter(prefix=PREFIX, responses=UNAUTHORIZED)

#: The most repositories one /repos/pulls request may name (the contract's limit).
MAX_REPOS = 50

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such namespace or repository, or no permission to read it."}
}


async def series_query(
    timespan: Annotated[Timespan, Query(description="Period length.")] = Timespan.MONTHS,
    period: Annotated[
        RelativePeriod, Query(description="Window of complete months before the current one.")
    ] = RelativePeriod.LAST_12_MONTHS,
    group: Annotated[
        Group, Query(description="One row per period, or per repository (namespace routes).")
    ] = Group.NAMESPACE,
    current: Annotated[
        bool, Query(description="Append the current, incomplete period, marked partial.")
    ] = False,
    breakdown: Annotated[
        Breakdown | None,
        Query(description="Split every row by client country (ISO 3166-1 alpha-2, ZZ unknown)."),
    ] = None,
) -> SeriesQuery:
    return SeriesQuery(
        timespan=timespan, period=period, group=group, current=current, breakdown=breakdown
    )


def readable(viewer: Viewer, namespace: str) -> str:
    """The namespace if the viewer may read it; otherwise 404, as if it did not exist."""
    if namespace not in viewer.namespaces:
        raise HTTPException(404, detail=f"namespace {namespace!r} not found")
    return namespace


def repository_exists(session: Session, namespace: str, repo: str) -> bool:
    """Whether ``namespace/repo`` has repository rollups. A name outside the grammar
    (``names.repository_problem``) has none, and is not looked up: a client types it, and
    PostgreSQL refuses some text (a NUL) as a query parameter, which was a 500."""
    if repository_problem(f"{namespace}/{repo}") is not None:
        return False
    query = select(PullRollup.repository).where(
        PullRollup.level == "repository",
        PullRollup.namespace == namespace,
        PullRollup.repository == repo,
    )
    return session.execute(query.limit(1)).first() is not None


@dataclass(frozen=True)
class SeriesRequest:
    """What every pull-series route (and every export listing) needs besides its own
    parameters: the request, the app, the viewer and the catalog versions it is answered at."""

    request: Request
    state: AppState
    viewer: Viewer
    versions: CatalogVersions

    async def answer(self, build: Callable[[Session], BaseModel]) -> Response:
        """The cached answer of this request, or ``build``'s, cached (no field is ever null)."""
        sessions = self.state.runtime.sessions

        def body() -> bytes:
            with sessions() as session:
                return build(session).model_dump_json(exclude_none=True).encode()

        return await cached_json(
            self.request,
            self.state.responses,
            self.viewer.cache_scope,
            self.versions.generation,
            utc_day(),
            body,
        )


async def series_request(
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    viewer: Annotated[Viewer, Depends(current_viewer)],
    versions: Annotated[CatalogVersions, Depends(request_versions)],
) -> SeriesRequest:
    return SeriesRequest(request, state, viewer, versions)


def _pull_data(rows: list[dict[str, Any]]) -> PullData:
    return PullData(pulls=[PullModel(**row) for row in rows])


def today_utc() -> date:
    """Today in UTC, the day every series' window is counted from."""
    return date.fromisoformat(utc_day())


@router.get(
    "/",
    operation_id="getNamespaces",
    response_model=NamespaceData,
    tags=["discovery"],
    summary="Namespaces (and extra repositories) with data that the caller may read",
)
async def discovery(
    series: Annotated[SeriesRequest, Depends(series_request)],
) -> Response:
    # which namespaces have rollups changes only with the data generation: answered from the
    # cache of the viewer's scope and generation, as the series are (a hit stays on the loop)
    viewer = series.viewer

    def build(session: Session) -> NamespaceData:
        with_data = set(
            session.scalars(
                select(PullRollup.namespace)
                .where(PullRollup.level == "namespace")
                .where(PullRollup.namespace.in_(viewer.namespaces))
                .distinct()
            )
        )
        extras = {
            repo
            for repos in viewer.extra_repos.values()
            for repo in repos
            if repository_exists(session, *repo.split("/", 1))
        }
        return NamespaceData(namespaces=sorted(with_data) + sorted(extras))

    return await series.answer(build)


#: ``datasets`` of the discovery routes: Docker's list (``pulls``) unless ``all`` is asked for.
#: A client written from Docker's OpenAPI document may refuse a dataset name its enum lacks,
#: so the report datasets are listed only to a client that asks (docs/api.md).
DatasetsParam = Annotated[
    Literal["dvp", "all"],
    Query(
        description="pullstats extension: `all` lists the report datasets too "
        "(docs/reports.md); `dvp`, the default, only Docker's `pulls`."
    ),
]


def _datasets(which: str) -> list[DatasetModel]:
    return ALL_DATASETS if which == "all" else [PULLS_DATASET]


@router.get(
    "/namespaces",
    operation_id="getUserNamespaces",
    response_model=list[NamespaceMetadata],
    tags=["discovery"],
    summary="Metadata of every namespace the caller may read",
)
async def namespaces(
    viewer: Annotated[Viewer, Depends(current_viewer)],
    datasets: DatasetsParam = "dvp",
) -> list[NamespaceMetadata]:
    return [
        NamespaceMetadata(
            namespace=ns,
            extraRepos=list(viewer.extra_repos.get(ns, ())),
            datasets=_datasets(datasets),
        )
        for ns in viewer.namespaces
    ]


@router.get(
    "/namespaces/{namespace}",
    operation_id="getNamespace",
    response_model=NamespaceMetadata,
    responses=NOT_FOUND,
    tags=["discovery"],
    summary="Metadata of one namespace",
)
async def namespace(
    namespace: str,
    viewer: Annotated[Viewer, Depends(current_viewer)],
    datasets: DatasetsParam = "dvp",
) -> NamespaceMetadata:
    readable(viewer, namespace)
    return NamespaceMetadata(
        namespace=namespace,
        extraRepos=list(viewer.extra_repos.get(namespace, ())),
        datasets=_datasets(datasets),
    )


@router.get(
    "/namespaces/{namespace}/pulls",
    operation_id="getNamespacePulls",
    response_model=PullData,
    response_model_exclude_none=True,
    responses=NOT_FOUND,
    tags=["namespaces"],
    summary="Pull counts of a namespace",
)
async def namespace_pulls(
    namespace: str,
    query: Annotated[SeriesQuery, Depends(series_query)],
    series: Annotated[SeriesRequest, Depends(series_request)],
) -> Response:
    readable(series.viewer, namespace)
    today = today_utc()
    scope = series.viewer.scope(namespace)
    return await series.answer(
        lambda session: _pull_data(namespace_series(session, scope, query, today))
    )


@router.get(
    "/namespaces/{namespace}/repos/{repo:path}/pulls",
    operation_id="getRepoPulls",
    response_model=PullData,
    response_model_exclude_none=True,
    responses=NOT_FOUND,
    tags=["namespaces"],
    summary="Pull counts of a repository (the repository name may contain slashes)",
)
async def repository_pulls(
    namespace: str,
    repo: str,
    query: Annotated[SeriesQuery, Depends(series_query)],
    series: Annotated[SeriesRequest, Depends(series_request)],
) -> Response:
    def missing() -> HTTPException:
        return HTTPException(404, detail=f"repository {namespace}/{repo!s} not found")

    if not series.viewer.may_read_repository(namespace, repo):
        raise missing()
    today = today_utc()

    def build(session: Session) -> PullData:
        # inside the build: an answer in the cache proves the repository existed at this
        # data generation, and a 404 is never cached
        if not repository_exists(session, namespace, repo):
            raise missing()
        return _pull_data(repository_series(session, namespace, repo, query, today))

    return await series.answer(build)


@router.get(
    "/repos/pulls",
    operation_id="getManyReposPulls",
    response_model=ReposPullData,
    response_model_exclude_none=True,
    responses={400: {"description": f"More than {MAX_REPOS} repositories."}},
    tags=["namespaces"],
    summary="Pull counts of several repositories at once",
)
async def many_repository_pulls(
    repos: Annotated[
        list[str],
        Query(description=f"`namespace/repo` names, at most {MAX_REPOS}.", min_length=1),
    ],
    query: Annotated[SeriesQuery, Depends(series_query)],
    series: Annotated[SeriesRequest, Depends(series_request)],
) -> Response:
    names = list(dict.fromkeys(repos))  # a name given twice counts once
    if len(names) > MAX_REPOS:
        raise HTTPException(400, detail=f"at most {MAX_REPOS} repositories per request")
    today = today_utc()

    def build(session: Session) -> ReposPullData:
        answer: dict[str, PullData] = {}
        for name in names:
            ns, _, repo = name.partition("/")
            if not repo:
                continue
            allowed = series.viewer.may_read_repository(ns, repo)
            if allowed and repository_exists(session, ns, repo):
                answer[name] = _pull_data(repository_series(session, ns, repo, query, today))
        return ReposPullData(repos=answer)

    return await series.answer(build)
