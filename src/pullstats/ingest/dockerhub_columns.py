"""Docker Hub DVP CSV headers: normalise column names, map synonyms, tell the file kind.

Pure logic, no I/O. Docker Hub and pullstats write the same data points with different
spellings (``Action day``, ``action_day``, ``HTTP method``, ``Unique IP count`` …). A header is
normalised by lower-casing it and turning every run of spaces, dashes and other punctuation into
one underscore; a few synonyms then map onto pullstats' own export names (docs/exports.md).
The kind of file follows from which columns are present:

- ``timestamp`` and ``action`` → **raw** (one row per action);
- any count column (``pull_by_tag``, ``unique_ip_count`` …) → a summary, whose level is
  **summary** (tag/digest) with ``reference``, **repo-summary** with ``repository`` only, else
  **namespace-summary**;
- ``date_granularity``/``date_reference`` (Docker's current "DVP Core" reports) → the
  **core-summary** report with ``level``, else the **core-trends** report.

A file without a ``Namespace`` column takes its namespace from ``--namespace`` or, in Docker's
DVP Core reports, from ``PUBLISHER_NAME``.
"""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pullstats.dvp_columns import COUNT_COLUMNS
from pullstats.dvp_columns import RAW_COLUMNS as EXPORT_RAW_COLUMNS
from pullstats.periods import Period

__all__ = [
    "CORE_COLUMNS",
    "CORE_COUNT_COLUMNS",
    "COUNT_COLUMNS",
    "RAW_COLUMNS",
    "SUMMARY_COLUMNS",
    "FileKind",
    "Header",
    "NotPullHistory",
    "UnrecognisedFile",
    "normalise_name",
    "parse_header",
    "period_from_file_name",
    "period_from_label",
]


class UnrecognisedFile(ValueError):
    """A whole file that cannot be imported (unreadable, or a header of no known kind)."""


class NotPullHistory(Exception):
    """A file known, and not imported because it has no pull counts: pullstats' co-usage
    report (Docker's Technographic report), pairs of repositories and their users in common."""


class FileKind(enum.StrEnum):
    RAW = "raw"
    SUMMARY = "summary"
    REPO_SUMMARY = "repo-summary"
    NAMESPACE_SUMMARY = "namespace-summary"
    #: Docker's current reports ("DVP Core"): the Summary report (a LEVEL per row) and the
    #: Trends report (a row per repository, country, cloud, client tool and tag)
    CORE_SUMMARY = "core-summary"
    CORE_TRENDS = "core-trends"

    @property
    def level(self) -> str:
        """The rollup level a legacy summary file describes (``pull_rollups.level``)."""
        return {
            FileKind.SUMMARY: "reference",
            FileKind.REPO_SUMMARY: "repository",
            FileKind.NAMESPACE_SUMMARY: "namespace",
        }[self]


#: The raw columns read (Docker's ``Action day`` is recomputed from the timestamp and
#: ``Owner`` has no place in an action; other extra columns are ignored too).
RAW_COLUMNS = tuple(column for column in EXPORT_RAW_COLUMNS if column != "action_day")
_SUMMARY_KEYS = ("period_start", "period_end", "namespace", "repository", "reference")
SUMMARY_COLUMNS = (*_SUMMARY_KEYS, *COUNT_COLUMNS)
#: Docker's DVP Core reports, Summary and Trends, under their normalised names (``VERSION_CHECKS``
#: is ``version_check`` by the synonyms below); a column of one read as NULL in the other.
CORE_COUNT_COLUMNS = ("data_downloads", "version_check", "event_count", "pulls")
CORE_COLUMNS = (
    "date_granularity",
    "date_reference",
    "publisher_name",
    "namespace",
    "level",
    "reference",
    "image_repository",
    "repository",
    "ip_country",
    "cloud_service_provider",
    "user_agent",
    "tag",
    *CORE_COUNT_COLUMNS,
    "unique_authenticated_users",
    "unique_unauthenticated_users",
)
#: A Trends report is told from a Summary report (which has ``level``) by any of these.
_TRENDS_ONLY = ("image_repository", "pulls", "unique_authenticated_users", "tag")

_SYNONYMS = {
    "repo": "repository",
    "http_request_method": "http_method",
    "method": "http_method",
    "useragent": "user_agent",
    "user_agent_string": "user_agent",
    "start": "period_start",
    "end": "period_end",
    "unique_ip_address_count": "unique_ip_count",
    "unique_ip_address": "unique_ip_count",  # Docker's data-point table
    "tag_included_when_available": "tag",  # ditto: "Tag (included when available)"
    "unique_ip_addresses": "unique_ip_count",
    "unique_ips": "unique_ip_count",
    "unique_ip": "unique_ip_count",
    "ip_count": "unique_ip_count",
    "pulls_by_tag": "pull_by_tag",
    "pull_by_tag_count": "pull_by_tag",
    "pulls_by_tag_count": "pull_by_tag",
    "pulls_by_digest": "pull_by_digest",
    "pull_by_digest_count": "pull_by_digest",
    "pulls_by_digest_count": "pull_by_digest",
    "version_checks": "version_check",
    "version_check_count": "version_check",
}

_SEPARATORS = re.compile(r"[^0-9a-z]+")
_WEEK_LABEL = re.compile(r"(?<![0-9])([0-9]{4})-W([0-9]{2})(?![0-9])", re.ASCII)
_MONTH_LABEL = re.compile(r"(?<![0-9-])([0-9]{4})-([0-9]{2})(?![0-9-])", re.ASCII)


#: Columns read in another form: a raw row's day is recomputed from its timestamp.
_RECOMPUTED = frozenset({"action_day"})


@dataclass(frozen=True)
class Header:
    """A file's kind, for each canonical column it has the column's name in the file, and the
    file's columns that are not imported (Docker's ``Owner``, unknown ones), in file order: the
    importer lists them, so a misspelt count column is never dropped without a word."""

    kind: FileKind
    columns: dict[str, str]
    ignored: tuple[str, ...] = ()


def normalise_name(name: str) -> str:
    """``"User agent tool"``, ``"user-agent-tool"``, ``"USER_AGENT_TOOL"`` → ``user_agent_tool``."""
    plain = _SEPARATORS.sub("_", name.strip().lstrip("\ufeff").lower()).strip("_")
    return _SYNONYMS.get(plain, plain)


def parse_header(names: Iterable[str], namespace_given: bool = False) -> Header:
    """Map a file's header onto canonical columns and tell its kind; UnrecognisedFile if none.

    A file needs a Namespace column unless ``namespace_given`` (``--namespace``) or, for a DVP
    Core report, it has PUBLISHER_NAME."""
    names = list(names)
    if len(names) == 1 and (separator := _other_separator(names[0])):
        raise UnrecognisedFile(
            f"{names[0][:200]!r}: the header is one column: the file is separated by "
            f"{separator!r}, not by commas (Docker Hub's CSV files use commas)"
        )
    columns: dict[str, str] = {}
    for name in names:
        canonical = normalise_name(name)
        if canonical in columns:
            raise UnrecognisedFile(
                f"columns {columns[canonical]!r} and {name!r} both mean {canonical!r}"
            )
        columns[canonical] = name
    shown = ", ".join(names)[:200]
    core = "date_granularity" in columns or "date_reference" in columns
    wanted: tuple[str, ...]
    if core:
        kind, wanted = _core_kind(columns, shown), CORE_COLUMNS
    elif "timestamp" in columns and "action" in columns:
        kind = FileKind.RAW
        wanted = RAW_COLUMNS
    elif any(column in columns for column in COUNT_COLUMNS):
        if "reference" in columns:
            kind = FileKind.SUMMARY
        elif "repository" in columns:
            kind = FileKind.REPO_SUMMARY
        else:
            kind = FileKind.NAMESPACE_SUMMARY
        wanted = SUMMARY_COLUMNS
    else:
        raise UnrecognisedFile(
            f"header is neither a raw file (Timestamp, Action, …) nor a summary "
            f"(Unique IP count, Pull by tag, …): {shown}"
        )
    # what kind of file first: a header of none is told so, not to give --namespace
    if "namespace" not in columns and not namespace_given:
        if not core:
            raise UnrecognisedFile(f"no Namespace column in the header ({shown}), no --namespace")
        if "publisher_name" not in columns:
            raise UnrecognisedFile(
                f"no NAMESPACE or PUBLISHER_NAME column in the header ({shown}), no --namespace"
            )
    kept = {c: columns[c] for c in wanted if c in columns}
    ignored = tuple(
        name
        for canonical, name in columns.items()
        if canonical not in kept and canonical not in _RECOMPUTED
    )
    return Header(kind, kept, ignored)


def _other_separator(header: str) -> str | None:
    """The separator a one-column header was most likely split by instead of commas."""
    found = {sep: header.count(sep) for sep in (";", "\t", "|")}
    best = max(found, key=lambda sep: found[sep])
    return best if found[best] else None


def _core_kind(columns: dict[str, str], shown: str) -> FileKind:
    """Which DVP Core report a header is: Summary (``LEVEL``) or Trends; NotPullHistory for a
    co-usage (Technographic) report."""
    if "dvpp_image" in columns and "paired_image" in columns:
        raise NotPullHistory("co-usage report: not imported (no pull counts)")
    missing = [c.upper() for c in ("date_granularity", "date_reference") if c not in columns]
    if missing:
        raise UnrecognisedFile(f"a DVP Core report without {' or '.join(missing)}: {shown}")
    if not any(column in columns for column in CORE_COUNT_COLUMNS):
        raise UnrecognisedFile(
            f"a DVP Core report without DATA_DOWNLOADS, VERSION_CHECKS, EVENT_COUNT or PULLS: "
            f"{shown}"
        )
    if "level" in columns:
        if "reference" not in columns:
            raise UnrecognisedFile(f"a DVP Core Summary report without REFERENCE: {shown}")
        return FileKind.CORE_SUMMARY
    if any(column in columns for column in _TRENDS_ONLY):
        if "image_repository" not in columns and "repository" not in columns:
            raise UnrecognisedFile(f"a DVP Core Trends report without IMAGE_REPOSITORY: {shown}")
        return FileKind.CORE_TRENDS
    raise UnrecognisedFile(
        f"a DVP Core report that is neither a Summary (LEVEL, REFERENCE) nor a Trends report "
        f"(IMAGE_REPOSITORY, TAG, PULLS …): {shown}"
    )


def period_from_label(text: str) -> Period | None:
    """The period ``text`` is, whole: ``2026-W02`` (an ISO week) or ``2026-01`` (a month)."""
    text = text.strip()
    try:
        found = period_from_file_name(text)
    except UnrecognisedFile:  # two labels
        return None
    return found if found is not None and found.label == text else None


def period_from_file_name(name: str) -> Period | None:
    """The period a file name states (``…_2026-W02_…`` or ``…_2026-01_…``), if any; a name
    with two periods (``x_2026-W10_2026-04.csv``) is refused as ambiguous (UnrecognisedFile)."""
    found: dict[str, Period] = {}
    for week in _WEEK_LABEL.finditer(name):
        with contextlib.suppress(ValueError):  # week 53 of a 52-week year: not a label
            period = Period.week(int(week[1]), int(week[2]))
            found.setdefault(period.label, period)
    for month in _MONTH_LABEL.finditer(name):
        with contextlib.suppress(ValueError):  # month 13: not a label after all
            period = Period.month(int(month[1]), int(month[2]))
            found.setdefault(period.label, period)
    if len(found) > 1:
        raise UnrecognisedFile(
            f"the file name has two period labels, {' and '.join(found)}: which is the "
            "period is not clear; give it with --period"
        )
    return next(iter(found.values()), None)
