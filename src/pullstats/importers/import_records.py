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
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pullstats import lake_files
from pullstats.ingest.dockerhub_columns import period_from_file_name
from pullstats.periods import Period
from pullstats.storage import Store

__all__ = ["EarlierImport", "ImportRecords", "import_id", "same_import"]


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


def same_import(
    earlier: list[EarlierImport], namespace: str | None, period: Period | None, name: str
) -> EarlierImport | None:
    """Which of ``earlier`` an import given ``namespace`` and ``period`` (None: not given) is, if
    any. Without ``period``, the label in the file's name ``name`` is the period, read only when
    an earlier import was given one (a summary without period columns): a raw file's name may
    hold any labels."""
    if period is None and any("period" in done.given for done in earlier):
        period = period_from_file_name(name)  # UnrecognisedFile: two labels
    return next((done for done in earlier if done.same_as(namespace, period)), None)


class ImportRecords:
    """The records in the lake, listed once (for one command, under the job lock), and kept up
    to date by :meth:`write` and :meth:`delete`."""

    def __init__(self, lake: Store) -> None:
        self._lake = lake
        self._keys = set(lake.files(lake_files.IMPORTED_FILES, suffix=".json"))

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

    def write(self, import_id: str, record: str, staging: Path) -> None:
        key = self.key(import_id)
        self._lake.write_bytes(key, record.encode(), staging)
        self._keys.add(key)

    def delete(self, import_id: str) -> None:
        key = self.key(import_id)
        self._lake.delete([key])
        self._keys.discard(key)
