"""The records of Docker Hub CSV imports, ``lake/imported-files/<id>.json``: which imports of a
file's content were made, and what each gave the file that its content does not say.

An import is identified by its content (the SHA-256 after gunzip) and what it was given: the
namespace of a file without a Namespace column, the period of a summary without period columns
(``--period`` or the file name's label). Two legacy summaries with the same counts two weeks
running are byte for byte the same file; given two periods they are two imports, and neither
touches the other. Its id (the record's name, and its part files' ``part-<id>.parquet``) is the
content's SHA-256 when nothing was given (or none of it named anything), else that SHA-256, a
``-`` and 16 hex digits of the SHA-256 of what was given. Records written before this kept the
content's SHA-256 alone as their name whatever they were given, and are read the same way.

Part files of a content that no record names are no import: what is left of one whose record was
set aside with a damaged part (:mod:`pullstats.lake_damage`), or of one that stopped half-way.
An import of that content deletes them (:meth:`ImportRecords.leftover_parts`), and their days or
periods are counted again: their names hold what was given, so no import writes them again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from pullstats import lake_files
from pullstats.db.state import add_pending_days
from pullstats.ingest.dockerhub_columns import UnrecognisedFile, period_from_file_name
from pullstats.periods import Period
from pullstats.storage import Store

__all__ = ["EarlierImport", "ImportRecords", "import_id", "part_day", "part_name", "same_imports"]

#: the trees of an import's part files, ``<tree>/…/part-<id>.parquet``
PART_TREES = (lake_files.IMPORTED, lake_files.IMPORTED_SUMMARIES, lake_files.IMPORTED_TRENDS)


class _Report(Protocol):
    """What :meth:`ImportRecords.delete_parts` reads of an import's report."""

    sha256: str
    days: list[date]
    parts: list[str]


def import_id(sha256: str, given: dict[str, str | None]) -> str:
    """The id of an import of the content ``sha256`` that was ``given`` these values."""
    if not any(given.values()):
        return sha256
    text = json.dumps(given, sort_keys=True, separators=(",", ":"))
    return f"{sha256}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


@dataclass(frozen=True)
class EarlierImport:
    """One recorded import of a content: its id and its record."""

    id: str
    record: dict[str, Any]

    @property
    def given(self) -> dict[str, str | None]:
        """What it gave the file; a record of a version before this says nothing of it: {}."""
        given: dict[str, str | None] = self.record.get("given", {})
        return given

    def same_as(self, namespace: str | None, period: Period | None) -> bool:
        """Whether an import given ``namespace`` and ``period`` (None: not given) is this one.

        Not giving one matches any: a folder imported again without ``--namespace`` keeps the
        namespace each file was given. A record that says nothing of it matches any too."""
        given = self.given
        return (namespace is None or given.get("namespace", namespace) == namespace) and (
            period is None or given.get("period", period.label) == period.label
        )


def same_imports(
    earlier: list[EarlierImport], namespace: str | None, period: Period | None, name: str
) -> list[EarlierImport]:
    """Which of ``earlier`` an import given ``namespace`` and ``period`` (None: not given) is:
    one at most, unless an option not given matches several. Without ``period``, the label in
    the file's name ``name`` is the period, read only when an earlier import was given one (a
    summary without period columns): a raw file's name may hold any labels, and a name with
    two labels gives none (a new import of such a file is refused)."""
    if period is None and any("period" in done.given for done in earlier):
        try:
            period = period_from_file_name(name)
        except UnrecognisedFile:  # two labels: no period given, which matches any
            period = None
    return [done for done in earlier if done.same_as(namespace, period)]


def part_name(import_id: str) -> str:
    """The name of the import ``import_id``'s part files."""
    return f"part-{import_id}.parquet"


def _part_id(key: str) -> str:
    """The import id in a part file's key (``…/part-<id>.parquet``)."""
    return key.rsplit("/", 1)[-1].removeprefix("part-").removesuffix(".parquet")


def part_day(key: str) -> date:
    """The day a part file's rows are counted again from: its day (``imported/day=D/…``), or
    its period's first day (``<tree>/<week|month>/<start>/…``), which makes ``process``
    recompute the period."""
    folder = key.rsplit("/", 2)[-2]
    return date.fromisoformat(folder.removeprefix("day="))


class ImportRecords:
    """The records in the lake, listed once (for one command, under the job lock), and kept up
    to date by :meth:`write` and :meth:`delete`; the part files, listed once too, when an
    import first asks for them (a folder of files costs the lake one listing of each tree, not
    one a file), and kept up to date by :meth:`delete_parts`. Parts written after that listing
    are the command's own imports', which have their records."""

    def __init__(self, lake: Store) -> None:
        self._lake = lake
        self._keys = set(lake.files(lake_files.IMPORTED_FILES, suffix=".json"))
        self._parts: dict[str, set[str]] | None = None  # content's SHA-256 → its part files

    def _parts_by_content(self) -> dict[str, set[str]]:
        if self._parts is None:
            self._parts = {}
            for tree in PART_TREES:
                for key in self._lake.files(tree, suffix=".parquet"):
                    sha256 = _part_id(key).split("-", 1)[0]
                    self._parts.setdefault(sha256, set()).add(key)
        return self._parts

    @staticmethod
    def key(import_id: str) -> str:
        return f"{lake_files.IMPORTED_FILES}/{import_id}.json"

    def of_content(self, sha256: str) -> list[EarlierImport]:
        """Every recorded import of the content ``sha256``, oldest id first."""
        prefix = f"{lake_files.IMPORTED_FILES}/{sha256}"
        found = []
        for key in sorted(self._keys):
            rest = key.removeprefix(prefix)
            if key.startswith(prefix) and (rest == ".json" or rest.startswith("-")):
                record = json.loads(self._lake.read_bytes(key))
                found.append(EarlierImport(key.rsplit("/", 1)[-1].removesuffix(".json"), record))
        return found

    def parts_of(self, import_id: str) -> set[str]:
        """The lake keys of every part file the import ``import_id`` wrote."""
        of_content = self._parts_by_content().get(import_id.split("-", 1)[0], set())
        return {key for key in of_content if _part_id(key) == import_id}

    def leftover_parts(self, sha256: str) -> set[str]:
        """The part files of the content ``sha256`` that no record names."""
        of_content = self._parts_by_content().get(sha256, set())
        return {key for key in of_content if self.key(_part_id(key)) not in self._keys}

    def delete_parts(
        self,
        sessions: sessionmaker[Session],
        report: _Report,
        replaced: list[EarlierImport],
    ) -> int:
        """Delete the part files of the ``replaced`` imports and those of ``report``'s content
        that no record names, but the ones ``report``'s import wrote; record their days and
        periods and ``report``'s as pending for ``process``. How many of the latter went."""
        kept = set(report.parts)
        leftovers = self.leftover_parts(report.sha256) - kept
        gone = set(leftovers)
        pending = set(report.days) | {part_day(key) for key in leftovers}
        for done in replaced:
            gone |= self.parts_of(done.id) - kept
            pending.update(date.fromisoformat(day) for day in done.record["days"])
        self._lake.delete(sorted(gone))
        # every one of them is of report's content: the replaced imports are imports of it
        self._parts_by_content().get(report.sha256, set()).difference_update(gone)
        with sessions.begin() as session:
            add_pending_days(session, sorted(pending))
        return len(leftovers)

    def write(self, import_id: str, record: str, staging: Path) -> None:
        key = self.key(import_id)
        self._lake.write_bytes(key, record.encode(), staging)
        self._keys.add(key)

    def delete(self, import_id: str) -> None:
        key = self.key(import_id)
        self._lake.delete([key])
        self._keys.discard(key)
