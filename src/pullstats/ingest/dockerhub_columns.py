"""Docker Hub DVP CSV headers: normalise column names, map synonyms, tell the file kind.

Pure logic, no I/O. Docker Hub and pullstats write the same data points with different
spellings (``Action day``, ``action_day``, ``HTTP method``, ``Unique IP count`` …). A header is
normalised by lower-casing it and turning every run of spaces, dashes and other punctuation into
one underscore; a few synonyms then map onto pullstats' own export names (docs/exports.md).
The kind of file follows from which columns are present:

- ``timestamp`` and ``action`` → **raw** (one row per action);
- any count column (``pull_by_tag``, ``unique_ip_count`` …) → a summary, whose level is
  **summary** (tag/digest) with ``reference``, **repo-summary** with ``repository`` only, else
  **namespace-summary**.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from pullstats.dvp_columns import COUNT_COLUMNS
from pullstats.dvp_columns import RAW_COLUMNS as EXPORT_RAW_COLUMNS
from pullstats.periods import Period

__all__ = [
    "COUNT_COLUMNS",
    "RAW_COLUMNS",
    "SUMMARY_COLUMNS",
    "FileKind",
    "Header",
    "UnrecognisedFile",
    "normalise_name",
    "parse_header",
    "period_from_file_name",
    "period_from_label",
]


class UnrecognisedFile(ValueError):
    """A whole file that cannot be imported (unreadable, or a header of no known kind)."""


class FileKind(enum.StrEnum):
    RAW = "raw"
    SUMMARY = "summary"
    REPO_SUMMARY = "repo-summary"
    NAMESPACE_SUMMARY = "namespace-summary"

    @property
    def level(self) -> str:
        """The rollup level a summary file describes (``pull_rollups.level``)."""
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


def parse_header(names: Iterable[str]) -> Header:
    """Map a file's header onto canonical columns and tell its kind; UnrecognisedFile if none."""
    names = list(names)
    columns: dict[str, str] = {}
    for name in names:
        canonical = normalise_name(name)
        if canonical in columns:
            raise UnrecognisedFile(
                f"columns {columns[canonical]!r} and {name!r} both mean {canonical!r}"
            )
        columns[canonical] = name
    shown = ", ".join(names)[:200]
    if "namespace" not in columns:
        raise UnrecognisedFile(f"no Namespace column in the header ({shown})")
    if "timestamp" in columns and "action" in columns:
        kind = FileKind.RAW
        wanted: tuple[str, ...] = RAW_COLUMNS
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
    kept = {c: columns[c] for c in wanted if c in columns}
    ignored = tuple(
        name
        for canonical, name in columns.items()
        if canonical not in kept and canonical not in _RECOMPUTED
    )
    return Header(kind, kept, ignored)


def period_from_label(text: str) -> Period | None:
    """The period ``text`` is, whole: ``2026-W02`` (an ISO week) or ``2026-01`` (a month)."""
    text = text.strip()
    found = period_from_file_name(text)
    return found if found is not None and found.label == text else None


def period_from_file_name(name: str) -> Period | None:
    """The period a file name states (``…_2026-W02_…`` or ``…_2026-01_…``), if any."""
    week = _WEEK_LABEL.search(name)
    try:
        if week:
            return Period.week(int(week[1]), int(week[2]))
        month = _MONTH_LABEL.search(name)
        if month:
            return Period.month(int(month[1]), int(month[2]))
    except ValueError:  # week 53 of a 52-week year, month 13: not a label after all
        return None
    return None
