"""What a pull series is asked for (``timespan``, ``period``, ``group``, ``breakdown``,
``current``): the ``…/pulls`` endpoints' query terms, shared by the API, the series
(:mod:`pullstats.rollups.series`) and the client. Pure, and light: the client imports it without
the catalog's database layer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pullstats.periods import PeriodKind

__all__ = ["Breakdown", "Group", "RelativePeriod", "SeriesQuery", "Timespan"]


class Timespan(enum.StrEnum):
    MONTHS = "months"
    WEEKS = "weeks"

    @property
    def kind(self) -> PeriodKind:
        return PeriodKind.MONTH if self is Timespan.MONTHS else PeriodKind.WEEK


class RelativePeriod(enum.StrEnum):
    LAST_2_MONTHS = "last-2-months"
    LAST_3_MONTHS = "last-3-months"
    LAST_6_MONTHS = "last-6-months"
    LAST_12_MONTHS = "last-12-months"

    @property
    def months(self) -> int:
        return int(self.value.split("-")[1])


class Breakdown(enum.StrEnum):
    COUNTRY = "country"


class Group(enum.StrEnum):
    REPO = "repo"
    NAMESPACE = "namespace"


@dataclass(frozen=True)
class SeriesQuery:
    timespan: Timespan = Timespan.MONTHS
    period: RelativePeriod = RelativePeriod.LAST_12_MONTHS
    group: Group = Group.NAMESPACE
    current: bool = False
    breakdown: Breakdown | None = None
