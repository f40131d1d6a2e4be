"""The parts of a request the client writes into a URL: a name as one path segment, the
query of a pull series, and the first day a ``since`` stands for."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from pullstats.rollups.series_query import Breakdown, Group, RelativePeriod, Timespan


def since_day(since: str | date | None) -> date | None:
    """``YYYY-MM`` (or a date) as the first day it names; ValueError for anything else. A
    ``datetime`` (a ``date`` too) is its day in UTC, the periods' time zone; a naive one is
    taken as UTC already."""
    if isinstance(since, datetime):
        return (since.astimezone(UTC) if since.utcoffset() is not None else since).date()
    if since is None or isinstance(since, date):
        return since
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", since):
        raise ValueError(f"since must be YYYY-MM, not {since!r}")
    return date.fromisoformat(f"{since}-01")


def segment(value: str | int) -> str:
    """One path segment, encoded; a dot segment too, which a URL would otherwise resolve
    (``acme/../globex`` is ``globex``): the server is asked for the name as it was given."""
    text = quote(str(value), safe="")
    return "%2E" * len(text) if text in (".", "..") else text


def series_params(
    timespan: Timespan | None,
    period: RelativePeriod | None,
    group: Group | None,
    breakdown: Breakdown | None,
    current: bool | None,
) -> list[tuple[str, str]]:
    """Only what was asked for: an absent parameter means the server's default."""
    params = [
        (name, value.value)
        for name, value in (
            ("timespan", timespan),
            ("period", period),
            ("group", group),
            ("breakdown", breakdown),
        )
        if value is not None
    ]
    if current is not None:
        params.append(("current", "true" if current else "false"))
    return params
