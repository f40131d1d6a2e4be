"""Bodies of the DVP Data API, written from the contract's schemas (no field is ever null)."""

from __future__ import annotations

import enum

from pydantic import BaseModel, Field

from pullstats.api.models import Omitted, PullData
from pullstats.exports.reports import ReportDataset, ReportView
from pullstats.exports.views import Dataview
from pullstats.rollups.series_query import Timespan


class DatasetType(enum.StrEnum):
    """Docker's one dataset, and pullstats' report datasets (listed only when asked for)."""

    PULLS = "pulls"
    SUMMARY = "summary"
    TRENDS = "trends"
    CO_USAGE = "co-usage"


class DatasetModel(BaseModel):
    name: DatasetType
    views: list[Dataview | ReportView]
    timespans: list[Timespan]


class NamespaceMetadata(BaseModel):
    namespace: str
    extraRepos: list[str] = Field(
        description="Repositories of other namespaces this namespace may read (`ns/repo`)."
    )
    datasets: list[DatasetModel]


class ReposPullData(BaseModel):
    repos: dict[str, PullData] = Field(
        description="Per requested `namespace/repo`; absent when unknown or not readable."
    )


class YearModel(BaseModel):
    year: int


class YearData(BaseModel):
    years: list[YearModel]


class MonthModel(BaseModel):
    month: int


class MonthData(BaseModel):
    months: list[MonthModel]


class WeekModel(BaseModel):
    week: int


class WeekData(BaseModel):
    weeks: list[WeekModel]


class ResponseDataFile(BaseModel):
    url: str = Field(description="Absolute, signed, expiring download URL of one part.")
    size: int = Field(
        description="Bytes of the file as served (its Content-Length).",
        json_schema_extra={"format": "int64"},
    )
    # pullstats' addition (docs/api.md): a client checks what it downloaded without trusting
    # the transport; Docker Hub's answers lack it, so clients must treat it as optional
    sha256: str | Omitted = Field(
        None,
        description="pullstats extension: SHA-256 (hex) of the file's bytes as served. "
        "Absent from Docker Hub's answers.",
    )


class ResponseData(BaseModel):
    data: list[ResponseDataFile]


PULLS_DATASET = DatasetModel(
    name=DatasetType.PULLS, views=list(Dataview), timespans=[Timespan.MONTHS, Timespan.WEEKS]
)

#: Every dataset: ``pulls`` and the reports (``?datasets=all`` of the discovery routes).
ALL_DATASETS = [
    PULLS_DATASET,
    *(
        DatasetModel(
            name=DatasetType(dataset.value),
            views=list(ReportView),
            timespans=[Timespan.MONTHS, Timespan.WEEKS],
        )
        for dataset in ReportDataset
    ),
]
