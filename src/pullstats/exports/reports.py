r"""The export datasets beyond the DVP Data API's ``pulls``: Docker's DVP Core reports.

A dataset is what ``/namespaces/{ns}/{dataset}/exports/…`` browses. ``pulls`` has the four
dataviews of :mod:`pullstats.exports.views`; each report dataset has one view, ``report``, a
CSV with Docker's column names, so a publisher's spreadsheets built on Docker's reports read it
(docs/reports.md). In the export catalog and in file names a report is
``<dataset>-report`` (:class:`ReportFile`), which no dataview of ``pulls`` is.

So far the ``summary`` dataset: Docker's *Summary report*, one row per repository, tag and
digest of the period (the rollups' repository and reference rows: what the API serves), the
step ``exports.core_summary_lines``. Pure.
"""

from __future__ import annotations

import enum

from pullstats.exports.views import Dataview, header_line


class Dataset(enum.StrEnum):
    PULLS = "pulls"
    SUMMARY = "summary"


class ReportDataset(enum.StrEnum):
    """The datasets that are reports (every :class:`Dataset` but ``pulls``)."""

    SUMMARY = "summary"


class ReportView(enum.StrEnum):
    """The one view of a report dataset."""

    REPORT = "report"


class ReportFile(enum.StrEnum):
    """A report as the export catalog and the file names call it."""

    SUMMARY_REPORT = "summary-report"


#: A kind of export file: one of the ``pulls`` dataviews, or a report.
ExportKind = Dataview | ReportFile

#: The report file of each report dataset.
REPORT_FILES = {ReportDataset.SUMMARY: ReportFile.SUMMARY_REPORT}

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

REPORT_COLUMNS = {ReportFile.SUMMARY_REPORT: CORE_SUMMARY_COLUMNS}

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
        csv_cell(safe_cell($publisher)),
        kind,
        csv_cell(safe_cell(CASE kind
            WHEN 'repository' THEN namespace || '/' || repository
            WHEN 'tag' THEN namespace || '/' || repository || ':' || reference
            ELSE namespace || '/' || repository || '@' || reference END)),
        CAST(pull_by_tag + pull_by_digest AS VARCHAR),
        CAST(version_check AS VARCHAR),
        CAST(pull_by_tag + pull_by_digest + version_check AS VARCHAR)
    ) || chr(13) || chr(10) AS line
FROM (
    SELECT *,
        CASE WHEN level = 'repository' THEN 'repository'
             WHEN contains(reference, ':') THEN 'digest'
             ELSE 'tag' END AS kind
    FROM summary_rows
    WHERE level <> 'namespace'
)
ORDER BY namespace, repository,
    CASE kind WHEN 'repository' THEN 0 WHEN 'tag' THEN 1 ELSE 2 END, reference
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
