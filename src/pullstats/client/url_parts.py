"""The parts of a request the client writes into a URL: a name as one path segment, and the
first day a ``since`` stands for."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote


def since_day(since: str | date | None) -> date | None:
    """``YYYY-MM`` (or a date) as the first day it names; ValueError for anything else."""
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
