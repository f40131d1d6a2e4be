"""``DvpClient``: every operation of the DVP Data API, its answers read as the contract allows.

One method per operation of the contract (``tests/fixtures/contract/dvp-facts.json``), with
its parameters typed by the same enums the server validates, and bodies parsed into the
client's own lenient models (:mod:`pullstats.client.answers`): the server's are strict about
what it sends, and Docker Hub's answers leave out fields the server always sends.
:meth:`DvpClient.export_files` walks the whole export tree, so nobody pages by hand.

The export operations take a ``dataset``: Docker's ``pulls`` by default, or one of pullstats'
report datasets (``summary``: Docker's DVP Core Summary report, one view ``report``;
:mod:`pullstats.exports.reports`). Docker Hub has no report datasets: a 404 for one, from a
server that does not list it for the namespace, is :class:`DatasetNotServed`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from pullstats.client.answers import (
    Listed,
    MonthData,
    MonthModel,
    NamespaceData,
    NamespaceMetadata,
    PullData,
    ReposPullData,
    ResponseData,
    WeekData,
    WeekModel,
    YearData,
    parse,
)
from pullstats.client.datasets import View, dataset_views, own_views
from pullstats.client.errors import DatasetNotServed, NotFound, ServerError
from pullstats.client.session import DOCKER_HUB, RetryNotice, Session
from pullstats.client.url_parts import segment, series_params, since_day
from pullstats.exports.reports import REPORT_FILES, Dataset, ReportDataset, ReportFile
from pullstats.exports.views import Dataview
from pullstats.rollups.series_query import Breakdown, Group, RelativePeriod, Timespan

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class ExportFile:
    """One downloadable part of one view of one exported month or week of one dataset.

    ``sha256`` is pullstats' extension of the listing (None from Docker Hub, whose answers lack
    it): with it a download is checked byte for byte, without it by size and gzip only.
    ``dataview`` is the view as the API names it (``report`` for a report dataset); ``kind``
    names the file: the dataview for ``pulls``, else the report (``summary-report``).
    """

    namespace: str
    year: int
    timespantype: Timespan
    timespan: int
    dataview: View
    part: int
    url: str
    size: int
    sha256: str | None = None
    dataset: Dataset = Dataset.PULLS

    @property
    def kind(self) -> Dataview | ReportFile:
        """``raw`` … ``namespace-summary``, or ``summary-report``: the file's folder on disk."""
        if self.dataset is Dataset.PULLS:
            return Dataview(self.dataview)
        return REPORT_FILES[ReportDataset(self.dataset)]

    @property
    def label(self) -> str:
        """``acme/2026/months/10/raw/part001``: how messages and errors name the file."""
        return (
            f"{self.namespace}/{self.year}/{self.timespantype.value}/{self.timespan:02d}/"
            f"{self.kind.value}/part{self.part:03d}"
        )

    @property
    def last_day(self) -> date:
        return last_day(self.timespantype, self.year, self.timespan)


def last_day(timespantype: Timespan, year: int, timespan: int) -> date:
    """The last day of an exported month or ISO week (a Sunday), for ``since`` filters."""
    if timespantype is Timespan.WEEKS:
        return date.fromisocalendar(year, timespan, 7)
    return date(year + timespan // 12, timespan % 12 + 1, 1) - timedelta(days=1)


class DvpClient:
    """A synchronous client of a DVP Data API: Docker Hub by default, or a pullstats server.

    Sign in with :meth:`login` (a password or a personal access token); when that raises
    ``SecondFactorRequired``, :meth:`second_factor` with the TOTP code finishes it. A token
    that expires is renewed by signing in again when the credentials are known (not after a
    second factor: that needs a new code); ``credentials`` (user name, password or token) are
    such credentials for a ``token`` given here. Every failure is a
    :class:`pullstats.client.errors.ClientError`. ``on_retry`` is told of each retry of a data
    call before it waits (:data:`pullstats.client.session.RetryNotice`): a command line shows
    it, so a server that fails for a while never leaves it silent for minutes.
    """

    def __init__(
        self,
        base_url: str = DOCKER_HUB,
        *,
        token: str | None = None,
        credentials: tuple[str, str] | None = None,
        timeout: float = 30.0,
        attempts: int = 4,
        max_wait: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        on_retry: RetryNotice | None = None,
    ) -> None:
        self.session = Session(
            base_url,
            token=token,
            credentials=credentials,
            timeout=timeout,
            attempts=attempts,
            max_wait=max_wait,
            transport=transport,
            on_retry=on_retry,
        )

    def __enter__(self) -> DvpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    @property
    def token(self) -> str | None:
        return self.session.token

    def login(self, username: str, secret: str) -> None:
        self.session.login(username, secret)

    def second_factor(self, code: str, login_2fa_token: str | None = None) -> None:
        self.session.second_factor(code, login_2fa_token)

    # discovery ------------------------------------------------------------------------

    def namespaces(self) -> NamespaceData:
        """``GET /``: the namespaces (and extra repositories) with data the caller may read."""
        return self._get(NamespaceData, "/")

    def user_namespaces(self, *, all_datasets: bool = False) -> list[NamespaceMetadata]:
        """``GET /namespaces``: metadata of every namespace the caller may read (with
        ``all_datasets``, a pullstats server's report datasets too)."""
        body = self.session.get_json("/namespaces", {"datasets": "all"} if all_datasets else None)
        return parse(TypeAdapter(Listed[NamespaceMetadata]), body, self.session.base_url)

    def namespace(self, namespace: str, *, all_datasets: bool = False) -> NamespaceMetadata:
        """``all_datasets`` asks a pullstats server to list its report datasets too
        (``?datasets=all``); without it only ``pulls`` is listed, as by Docker Hub."""
        params = {"datasets": "all"} if all_datasets else None
        return self._get(NamespaceMetadata, f"/namespaces/{segment(namespace)}", params)

    # pull series ----------------------------------------------------------------------

    def namespace_pulls(
        self,
        namespace: str,
        *,
        timespan: Timespan | None = None,
        period: RelativePeriod | None = None,
        group: Group | None = None,
        breakdown: Breakdown | None = None,
        current: bool | None = None,
    ) -> PullData:
        """``breakdown`` and ``current`` are pullstats' additions; Docker Hub ignores them."""
        params = series_params(timespan, period, group, breakdown, current)
        return self._get(PullData, f"/namespaces/{segment(namespace)}/pulls", params)

    def repo_pulls(
        self,
        namespace: str,
        repo: str,
        *,
        timespan: Timespan | None = None,
        period: RelativePeriod | None = None,
        group: Group | None = None,
        breakdown: Breakdown | None = None,
        current: bool | None = None,
    ) -> PullData:
        """A repository name may hold slashes (``tools/cli``); they stay path separators."""
        repo_path = "/".join(segment(part) for part in repo.split("/"))
        path = f"/namespaces/{segment(namespace)}/repos/{repo_path}/pulls"
        return self._get(PullData, path, series_params(timespan, period, group, breakdown, current))

    def repos_pulls(
        self,
        repos: Iterable[str],
        *,
        timespan: Timespan | None = None,
        period: RelativePeriod | None = None,
        group: Group | None = None,
        breakdown: Breakdown | None = None,
        current: bool | None = None,
    ) -> ReposPullData:
        """Several ``namespace/repo`` at once (the server's limit is 50 per request)."""
        params = [("repos", name) for name in repos]
        params += series_params(timespan, period, group, breakdown, current)
        return self._get(ReposPullData, "/repos/pulls", params)

    # exports ------------------------------------------------------------------------

    def years(self, namespace: str, *, dataset: Dataset = Dataset.PULLS) -> YearData:
        return self._exports(YearData, namespace, dataset, "/years")

    def timespans(
        self,
        namespace: str,
        year: int,
        timespantype: Timespan,
        *,
        dataset: Dataset = Dataset.PULLS,
    ) -> MonthData | WeekData:
        tail = f"/years/{year}/{timespantype.value}"
        if timespantype is Timespan.WEEKS:
            return self._exports(WeekData, namespace, dataset, tail)
        return self._exports(MonthData, namespace, dataset, tail)

    def timespan_metadata(
        self,
        namespace: str,
        year: int,
        timespantype: Timespan,
        timespan: int,
        *,
        dataset: Dataset = Dataset.PULLS,
    ) -> MonthModel | WeekModel:
        tail = f"/years/{year}/{timespantype.value}/{timespan}"
        if timespantype is Timespan.WEEKS:
            return self._exports(WeekModel, namespace, dataset, tail)
        return self._exports(MonthModel, namespace, dataset, tail)

    def dataview(
        self,
        namespace: str,
        year: int,
        timespantype: Timespan,
        timespan: int,
        view: View,
        *,
        dataset: Dataset = Dataset.PULLS,
    ) -> ResponseData:
        """The signed, expiring download links of one view, one per part, in part order: a
        ``pulls`` :class:`Dataview`, or ``ReportView.REPORT`` of a report dataset."""
        own_views(Dataset(dataset), (view,))
        tail = f"/years/{year}/{timespantype.value}/{timespan}/{view.value}"
        return self._exports(ResponseData, namespace, dataset, tail)

    def export_files(
        self,
        namespace: str,
        *,
        timespantypes: Iterable[Timespan] = (Timespan.MONTHS, Timespan.WEEKS),
        views: Iterable[View] | None = None,
        since: str | date | None = None,
        dataset: Dataset = Dataset.PULLS,
    ) -> Iterator[ExportFile]:
        """Every part of every view of every exported period of ``dataset``: years → months
        and weeks → views → files, lazily, so the links are fresh when the caller reaches them.
        ``views`` are the dataset's own (all of them when None).

        ``since`` (a date, a datetime for its day in UTC, or ``YYYY-MM`` for its first day)
        keeps the periods that end on or after that day (a week straddling it is kept), and
        skips asking about earlier years at all: each listed period costs a request per view.
        """
        since = since_day(since)
        dataset = Dataset(dataset)
        kinds = tuple(timespantypes)
        wanted = dataset_views(dataset) if views is None else own_views(dataset, views)
        # an entry without its number (the contract requires none) names no period
        listed_years = self.years(namespace, dataset=dataset).years
        years = [y.year for y in listed_years if y.year is not None]
        for year in years:
            # an ISO week of year Y can end in early January of Y + 1
            if since is not None and year + 1 < since.year:
                continue
            for kind in kinds:
                listed = self.timespans(namespace, year, kind, dataset=dataset)
                numbers = (
                    [w.week for w in listed.weeks]
                    if isinstance(listed, WeekData)
                    else [m.month for m in listed.months]
                )
                for number in numbers:
                    if number is None or (
                        since is not None and last_day(kind, year, number) < since
                    ):
                        continue
                    for view in wanted:
                        yield from self.view_files(
                            namespace, year, kind, number, view, dataset=dataset
                        )

    def view_files(
        self,
        namespace: str,
        year: int,
        timespantype: Timespan,
        timespan: int,
        view: View,
        *,
        dataset: Dataset = Dataset.PULLS,
    ) -> list[ExportFile]:
        """The parts of one view of one exported period, as :class:`ExportFile`s, in order.
        A part listed without its ``url`` or ``size`` cannot be fetched nor checked: a
        ``ServerError`` naming it, rather than a file silently left out."""
        dataset = Dataset(dataset)
        links = self.dataview(namespace, year, timespantype, timespan, view, dataset=dataset)
        files = []
        for part, link in enumerate(links.data, 1):
            url, size = link.url or "", link.size or 0
            file = ExportFile(
                namespace, year, timespantype, timespan, view, part, url, size, link.sha256, dataset
            )
            if link.url is None or link.size is None:
                missing = "url" if link.url is None else "size"
                odd = ServerError(f"200: the listing of {file.label} gives it no {missing}", 200)
                raise odd.answered_by(self.session.base_url)
            files.append(file)
        return files

    def _exports(self, model: type[Model], namespace: str, dataset: Dataset, tail: str) -> Model:
        """``GET /namespaces/{ns}/{dataset}/exports{tail}``; a 404 for a report dataset from
        a server that does not list it for ``namespace`` is :class:`DatasetNotServed`."""
        dataset = Dataset(dataset)
        path = f"/namespaces/{segment(namespace)}/{dataset.value}/exports{tail}"
        try:
            return self._get(model, path)
        except NotFound:
            if dataset is Dataset.PULLS or self._serves(namespace, dataset):
                raise
        raise DatasetNotServed(
            f"{self.session.base_url} serves no {dataset.value!r} dataset for {namespace}: "
            "report datasets are a pullstats extension (Docker Hub serves only 'pulls')",
            404,
        ).answered_by(self.session.base_url)

    def _serves(self, namespace: str, dataset: Dataset) -> bool:
        """Whether the server lists ``dataset`` for ``namespace``; True when the namespace
        itself is not found, so the original 404 (no such namespace) stands."""
        try:
            listed = self.namespace(namespace, all_datasets=True).datasets
        except NotFound:
            return True
        except ServerError:  # a server that refuses ``datasets=all`` knows no report dataset
            return False
        return any(model.name == dataset.value for model in listed)

    def _get(self, model: type[Model], path: str, params: Any = None) -> Model:
        body = self.session.get_json(path, params)
        return parse(TypeAdapter(model), body, self.session.base_url)
