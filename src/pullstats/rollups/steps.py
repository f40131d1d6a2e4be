"""Stage 3's steps (:mod:`pullstats.steps`): a period's counts, and its counts by country."""

from __future__ import annotations

from pullstats.lake_schema import ACTIONS, IMPORTED_SUMMARIES
from pullstats.steps import Input, Step, Transform, sql_file

COUNTS = Step(
    "rollups.counts",
    (Input("actions", ACTIONS.schema), Input("summaries", IMPORTED_SUMMARIES.schema)),
    "a rollup row: level, namespace, repository, reference and the four counts",
    sql_file(__package__, "counts"),
)

COUNTRIES = Step(
    "rollups.countries",
    (Input("actions", ACTIONS.schema),),
    "a country rollup row: level, namespace, repository, country and the four counts",
    sql_file(__package__, "countries"),
)

STEPS: tuple[Step | Transform, ...] = (COUNTS, COUNTRIES)
