"""The answers of a DVP Data API as the client reads them: as leniently as Docker's contract.

The server answers in its own strict models (``pullstats.api.dvp_models``: every field it
sends, never a null, closed enums). A client must read what the contract allows instead, and
Docker's OpenAPI document of the DVP Data API requires no property of any answer's schema and
closes none of its objects. So here:

- every field is optional: a pull row without ``namespace`` (Docker Hub's rows grouped by
  repository), a namespace without ``extraRepos``, a part without ``sha256``;
- a field the client does not know is ignored, not an error (``extra="ignore"``);
- a list or map sent as ``null`` is read as empty, a tolerance the contract does not ask for
  (no schema of it is nullable) that costs nothing;
- the names a server lists (datasets, views, timespans of ``/namespaces``) are kept as the
  strings it sent, so a dataset or view Docker adds is shown, not refused.

What the client cannot do without (a year's number, a file part's ``url`` and ``size``) is
checked where it is used (``pullstats.client.dvp``), with an error that names what is missing.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from pullstats.client.errors import ServerError

T = TypeVar("T")


def _empty_list(value: Any) -> Any:
    return [] if value is None else value


def _empty_map(value: Any) -> Any:
    return {} if value is None else value


#: a list that may be absent or ``null``: empty then
Listed = Annotated[list[T], BeforeValidator(_empty_list)]


class Answer(BaseModel):
    """Unknown fields are ignored: the contract closes no object."""

    model_config = ConfigDict(extra="ignore")


class NamespaceData(Answer):
    namespaces: Listed[str] = Field(default_factory=list)


class DatasetModel(Answer):
    """A dataset as listed: ``pulls`` (Docker's), a pullstats report, or one the client does
    not know yet; its views and timespans as the server names them."""

    name: str | None = None
    views: Listed[str] = Field(default_factory=list)
    timespans: Listed[str] = Field(default_factory=list)


class NamespaceMetadata(Answer):
    namespace: str | None = None
    extraRepos: Listed[str] = Field(default_factory=list)
    datasets: Listed[DatasetModel] = Field(default_factory=list)


class PullModel(Answer):
    """One row of a pull series; ``country`` and ``partial`` are pullstats' additions."""

    start: str | None = None
    end: str | None = None
    repo: str | None = None
    namespace: str | None = None
    pullCount: int | None = None
    ipCount: int | None = None
    country: str | None = None
    partial: bool | None = None


class PullData(Answer):
    pulls: Listed[PullModel] = Field(default_factory=list)


class ReposPullData(Answer):
    repos: Annotated[dict[str, PullData], BeforeValidator(_empty_map)] = Field(default_factory=dict)


class YearModel(Answer):
    year: int | None = None


class YearData(Answer):
    years: Listed[YearModel] = Field(default_factory=list)


class MonthModel(Answer):
    month: int | None = None


class MonthData(Answer):
    months: Listed[MonthModel] = Field(default_factory=list)


class WeekModel(Answer):
    week: int | None = None


class WeekData(Answer):
    weeks: Listed[WeekModel] = Field(default_factory=list)


class ResponseDataFile(Answer):
    """``sha256`` is pullstats' addition; Docker Hub's answers lack it."""

    url: str | None = None
    size: int | None = None
    sha256: str | None = None


class ResponseData(Answer):
    data: Listed[ResponseDataFile] = Field(default_factory=list)


def parse(adapter: TypeAdapter[T], body: Any, server: str) -> T:
    """``body`` read as ``adapter``'s type; a body of another shape is a ``ServerError``
    (one line, with the first problem) of ``server``, the base URL that answered it."""
    try:
        return adapter.validate_python(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the answer"
        error = ServerError(
            f"200: the answer is not the contract's shape ({exc.error_count()} problem(s); "
            f"{where}: {first['msg']}): is the URL a DVP API server's?",
            200,
        )
        raise error.answered_by(server) from exc
