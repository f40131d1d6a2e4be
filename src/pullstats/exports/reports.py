r"""The export datasets beyond the DVP Data API's ``pulls``: Docker's DVP Core reports.

A dataset is what ``/namespaces/{ns}/{dataset}/exports/…`` browses. ``pulls`` has the four
dataviews of :mod:`pullstats.exports.views`; each report dataset has one view, ``report``, a
CSV with Docker's column names, so a publisher's spreadsheets built on Docker's reports read it
(docs/reports.md). In the export catalog and in file names a report is
``<dataset>-report`` (:class:`ReportFile`), which no dataview of ``pulls`` is.

The ``summary`` dataset is Docker's *Summary report*, one row per repository, tag and digest of
the period (the rollups' repository and reference rows: what the API serves), the step
``exports.core_summary_lines``; the ``trends`` dataset Docker's *Trends report*, one row per
repository, tag, country, cloud and tool (``trend_rollups`` at that grain: what ``…/trends``
serves), the step ``exports.core_trends_lines``; the ``co-usage`` dataset Docker's
*Technographic* report, the repositories at least ten users of each of the namespace's own also
pulled (``co_usage_rollups``), the step ``exports.co_usage_lines``. Pure.
"""

from __future__ import annotations

import enum

from pullstats.exports.views import Dataview, header_line


class Dataset(enum.StrEnum):
    PULLS = "pulls"
    SUMMARY = "summary"
    TRENDS = "trends"
    CO_USAGE = "co-usage"


class ReportDataset(enum.StrEnum):
    """The datasets that are reports (every :class:`Dataset` but ``pulls``)."""

    SUMMARY = "summary"
    TRENDS = "trends"
    CO_USAGE = "co-usage"


class ReportView(enum.StrEnum):
    """The one view of a report dataset."""

    REPORT = "report"


class ReportFile(enum.StrEnum):
    """A report as the export catalog and the file names call it."""

    SUMMARY_REPORT = "summary-report"
    TRENDS_REPORT = "trends-report"
    CO_USAGE_REPORT = "co-usage-report"


#: A kind of export file: one of the ``pulls`` dataviews, or a report.
ExportKind = Dataview | ReportFile

#: The report file of each report dataset.
REPORT_FILES = {
    ReportDataset.SUMMARY: ReportFile.SUMMARY_REPORT,
    ReportDataset.TRENDS: ReportFile.TRENDS_REPORT,
    ReportDataset.CO_USAGE: ReportFile.CO_USAGE_REPORT,
}

#: What a period's export writes: the four dataviews and every report.
EXPORT_FILES: tuple[Dataview | ReportFile, ...] = (*Dataview, *ReportFile)

#: Docker's Summary report, column for column (docs/reports.md).
CORE_SUMMARY_COLUMNS = (
    "DATE_GRANULARITY",
    "DATE_REFERENCE",
    "PUBLISHER_NAME",
    "LEVEL",
    "REFERENCE",
    "DATA_DOWNLOADS",
    "VERSION_CHECKS",
    "EVENT_COUNT",
)

#: Docker's Trends report, column for column, and pullstats' two (docs/reports.md).
CORE_TRENDS_COLUMNS = (
    "DATE_GRANULARITY",
    "DATE_REFERENCE",
    "PUBLISHER_NAME",
    "IMAGE_REPOSITORY",
    "NAMESPACE",
    "IP_COUNTRY",
    "CLOUD_SERVICE_PROVIDER",
    "USER_AGENT",
    "TAG",
    "DATA_DOWNLOADS",
    "VERSION_CHECKS",
    "PULLS",
    "UNIQUE_AUTHENTICATED_USERS",
    "UNIQUE_UNAUTHENTICATED_USERS",
    "CLIENT_CATEGORY",
    "INFERRED_USE_CASE",
)

#: Docker's Technographic report, the columns pullstats has (docs/reports.md).
CO_USAGE_COLUMNS = (
    "DATE_GRANULARITY",
    "DATE_REFERENCE",
    "PUBLISHER_NAME",
    "DVPP_IMAGE",
    "PAIRED_IMAGE",
    "USERS",
    "TOTAL_PULLERS",
    "PCT_USERS",
)

#: The reports' columns that hold counts (every other one is text; PCT_USERS is a decimal).
REPORT_COUNT_COLUMNS = frozenset(
    CORE_SUMMARY_COLUMNS[-3:] + CORE_TRENDS_COLUMNS[9:14] + CO_USAGE_COLUMNS[5:7]
)

REPORT_COLUMNS = {
    ReportFile.SUMMARY_REPORT: CORE_SUMMARY_COLUMNS,
    ReportFile.TRENDS_REPORT: CORE_TRENDS_COLUMNS,
    ReportFile.CO_USAGE_REPORT: CO_USAGE_COLUMNS,
}

#: DATE_GRANULARITY of a period kind, as Docker writes it.
GRANULARITY = {"week": "weekly", "month": "monthly"}


def core_summary_lines_sql() -> str:
    """``exports.core_summary_lines``: the Summary report's CSV lines from ``summary_rows``
    (the rollup rows of the export's scope) for the period ``$granularity``/``$period_start``,
    published as ``$publisher`` (the exporting namespace).

    Docker's levels are ``repository``, ``tag`` and ``digest``: a reference row is a digest
    when it holds a ``:`` (``sha256:…``; a tag never does), else a tag. ``REFERENCE`` names the
    repository whole (``ns/repo``, ``ns/repo:tag``, ``ns/repo@sha256:…``), so an extra repo of
    another namespace keeps its own namespace and ``pullstats import dockerhub-csv`` places
    every row. ``DATA_DOWNLOADS`` is pulls by tag and by digest, ``EVENT_COUNT`` adds the
    version checks. The namespace rows are not Docker's and are left out. Rows come by
    repository, then the repository's own row, its tags, its digests, each by name.
    """
    return """-- exports.core_summary_lines: Docker's DVP Core Summary report, one CSV line per row
SELECT concat_ws(',',
        $granularity,
        $period_start,
        text_cell($publisher),
        kind,
        text_cell(name),
        CAST(pull_by_tag + pull_by_digest AS VARCHAR),
        CAST(version_check AS VARCHAR),
        CAST(pull_by_tag + pull_by_digest + version_check AS VARCHAR)
    ) || chr(13) || chr(10) AS line
FROM (
    SELECT *,
        CASE WHEN level = 'repository' THEN 'repository'
             WHEN contains(reference, ':') THEN 'digest'
             ELSE 'tag' END AS kind,
        CASE WHEN level = 'repository' THEN namespace || '/' || repository
             WHEN contains(reference, ':') THEN namespace || '/' || repository || '@' || reference
             ELSE namespace || '/' || repository || ':' || reference END AS name
    FROM summary_rows
    WHERE level <> 'namespace'
)
ORDER BY namespace, repository,
    CASE kind WHEN 'repository' THEN 0 WHEN 'tag' THEN 1 ELSE 2 END, reference
"""


def core_trends_lines_sql() -> str:
    """``exports.core_trends_lines``: the Trends report's CSV lines from ``trend_rows`` (the
    trends rollup's rows at the report's grain in the export's scope) for the period
    ``$granularity``/``$period_start``, published as ``$publisher``.

    Docker's spellings where pullstats has none of its own: ``no csp`` for a client outside a
    known cloud, ``\\N`` for the tag of pulls by digest (both read back by
    ``pullstats import dockerhub-csv``); a country not known is ``ZZ``, a tool not known an
    empty cell. ``PULLS`` is downloads and version checks; the users are the rollup's, exact
    for the row. Rows come by namespace, repository, tag, country, cloud and tool.
    """
    return """-- exports.core_trends_lines: Docker's DVP Core Trends report, one CSV line per row
SELECT concat_ws(',',
        $granularity,
        $period_start,
        text_cell($publisher),
        text_cell(namespace || '/' || repository),
        text_cell(namespace),
        text_cell(country),
        text_cell(CASE WHEN cloud = '' THEN 'no csp' ELSE cloud END),
        text_cell(tool),
        text_cell(CASE WHEN tag = '' THEN '\\N' ELSE tag END),
        CAST(data_downloads AS VARCHAR),
        CAST(version_checks AS VARCHAR),
        CAST(data_downloads + version_checks AS VARCHAR),
        CAST(unique_authenticated_users AS VARCHAR),
        CAST(unique_unauthenticated_users AS VARCHAR),
        text_cell(category),
        text_cell(use_case)
    ) || chr(13) || chr(10) AS line
FROM trend_rows
ORDER BY namespace, repository, tag, country, cloud, tool
"""


def co_usage_lines_sql() -> str:
    """``exports.co_usage_lines``: the Technographic report's CSV lines from ``co_usage_rows``
    (the co-usage rollup's rows the exporting namespace may see) for the period
    ``$granularity``/``$period_start``, published as ``$publisher``.

    ``PCT_USERS`` is ``USERS`` / ``TOTAL_PULLERS`` in per cent with two decimals, rounded half
    up, worked in integers so that every engine writes the same text. Rows come by repository,
    then by users of both, most first, then by paired repository.
    """
    return """-- exports.co_usage_lines: Docker's Technographic report, one CSV line per pair
SELECT concat_ws(',',
        $granularity,
        $period_start,
        text_cell($publisher),
        text_cell(namespace || '/' || repository),
        text_cell(paired_namespace || '/' || paired_repository),
        CAST(users AS VARCHAR),
        CAST(total_users AS VARCHAR),
        CAST(CAST(floor(hundredths / 100) AS BIGINT) AS VARCHAR) || '.'
            || lpad(CAST(hundredths % 100 AS VARCHAR), 2, '0')
    ) || chr(13) || chr(10) AS line
FROM (
    SELECT *, CAST(floor((users * 20000 + total_users) / (2 * total_users)) AS BIGINT)
        AS hundredths
    FROM co_usage_rows
)
ORDER BY namespace, repository, users DESC, paired_namespace, paired_repository
"""


def file_header(kind: Dataview | ReportFile) -> bytes:
    """The CSV header line of a dataview or a report, with its CRLF."""
    if isinstance(kind, Dataview):
        return header_line(kind)
    return (",".join(REPORT_COLUMNS[kind]) + "\r\n").encode()


def report_params(publisher: str, period_kind: str, period_start: str) -> dict[str, object]:
    """The parameters of a report's lines: who publishes it and which period it is."""
    return {
        "publisher": publisher,
        "granularity": GRANULARITY[period_kind],
        "period_start": period_start,
    }
