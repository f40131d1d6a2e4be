"""``pullstats ingest registry-log``: the registry's own log → notified requests it refused, set
aside, under the job lock.

Reads each source (a file, ``.gz`` too, or stdin) in chunks of lines
(:func:`pullstats.importers.log_import.line_chunks`); only the lines holding both ``response
completed`` and ``/manifests/`` (found for a whole chunk at once) are parsed, by
:mod:`pullstats.ingest.registry_log`. The refused manifest responses then go to
:mod:`pullstats.lake.refused`, which finds the notified requests they were (by request id and
the repository of the response's URI, which every manifest response has); their days are
recorded as pending before the requests are moved, so the next ``pullstats process`` recounts
them. Nothing is written to the lake but that; a second import of the same log finds nothing
left to set aside.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from pullstats.db.state import add_pending_days
from pullstats.importers.log_import import (
    ImportProgress,
    check_sources,
    line_chunks,
    source_name,
)
from pullstats.ingest.errors import UnparseableRequest
from pullstats.ingest.registry_log import MARKERS, is_refused, parse_line
from pullstats.lake.jobs import job_lock
from pullstats.lake.refused import find_refused, set_aside_refused
from pullstats.runtime import Runtime

#: Lines with a bad response entry whose numbers are reported, per source.
SHOWN_BAD_LINES = 5


@dataclass
class RegistryLogSource:
    """What one file (or stream) held."""

    name: str
    lines: int = 0
    #: the registry's ``response completed`` entries (every request's, at log level info)
    responses: int = 0
    #: manifest GET/HEAD responses, and how many of them were refused (status outside 2xx)
    manifest_responses: int = 0
    refused: int = 0
    #: response entries of a manifest request that lack a field or hold an invalid one
    unreadable: int = 0
    unreadable_lines: list[int] = field(default_factory=list)


@dataclass
class RegistryLogResult:
    sources: list[RegistryLogSource] = field(default_factory=list)
    #: notified requests set aside, by the status the registry answered with
    set_aside: Counter[int] = field(default_factory=Counter)
    days: set[date] = field(default_factory=set)


def import_registry_log(
    runtime: Runtime, sources: Sequence[str], progress: ImportProgress | None = None
) -> RegistryLogResult:
    """Set aside the notified requests that ``sources`` (``-``: stdin; pipes too) show the
    registry refused. :class:`LogImportError` if a source cannot be read, before anything is
    written."""
    progress = progress or ImportProgress()
    check_sources(sources)
    result = RegistryLogResult()
    # (request id, repository its URI named) → (response time, status): a request id is the
    # registry's, and a log may hold another registry's (or a copy's) with the same ids
    refused: dict[tuple[str, str | None], tuple[int, int]] = {}
    for name in sources:
        report = RegistryLogSource(source_name(name))
        result.sources.append(report)
        for chunk in line_chunks(name, progress):
            report.lines += len(chunk.lines)
            response_lines = pc.match_substring(chunk.lines, MARKERS[0])
            report.responses += pc.sum(response_lines).as_py() or 0
            wanted = pc.and_(response_lines, pc.match_substring(chunk.lines, MARKERS[1]))
            indices = pc.indices_nonzero(wanted).to_pylist()
            if not indices:
                continue
            lines = chunk.lines.take(pa.array(indices, pa.int64())).to_pylist()
            for index, line in zip(indices, lines, strict=True):
                try:
                    response = parse_line(line)
                except UnparseableRequest:
                    report.unreadable += 1
                    if len(report.unreadable_lines) < SHOWN_BAD_LINES:
                        report.unreadable_lines.append(chunk.first_line + index)
                    continue
                if response is None:
                    continue
                report.manifest_responses += 1
                if is_refused(response):
                    report.refused += 1
                    key = (response.request_id, response.name)
                    refused[key] = (response.time_us, response.status)
    with job_lock(runtime):
        found = find_refused(runtime, refused)
        if found.parts:
            with runtime.sessions.begin() as session:
                add_pending_days(session, found.reclassify())
            set_aside_refused(runtime, found)
        result.set_aside.update(status for _, status in found.answers.values())
        result.days = found.days()
    return result


def not_a_registry_log(source: RegistryLogSource) -> bool:
    """Whether a source held lines but not one ``response completed`` entry of the registry's
    log (at log level ``error`` it has them only for errors, which are what counts here)."""
    return source.lines > 0 and source.responses == 0
