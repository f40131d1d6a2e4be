"""The lake's tables, declared once: their folders, partitioning, columns and types.

Every stage that writes or reads the lake takes its column lists from here, and
``tests/lake/test_lake_schema.py`` holds the files that ``process`` and the importers write to
these schemas, so a change to a table is a change here first, with
:data:`LAKE_SCHEMA_VERSION` raised (``lake/_meta.json`` records the version a data dir holds).
Pure: Arrow types only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

#: The version of the lake's layout and schemas this release writes and reads.
LAKE_SCHEMA_VERSION = 2


@dataclass(frozen=True)
class LakeTable:
    """One table of the lake: Parquet files under ``lake/<folder>/`` (``day=YYYY-MM-DD/`` but for
    the imported summaries)."""

    folder: str
    schema: pa.Schema
    #: what a file of a day holds, and how a run adds to it
    files: str
    #: the files of the table, below its folder
    glob: str = "day=*/*.parquet"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema.names)


def _text(name: str, nullable: bool = True) -> pa.Field:
    """A text column; ``nullable=False`` where every writer always fills it (the Parquet files
    do not always say so: DuckDB marks NOT NULL only what it can prove)."""
    return pa.field(name, pa.string(), nullable)


#: Stage 1: one row per manifest request, address hashed and enriched.
REQUESTS = LakeTable(
    "requests",
    pa.schema(
        [
            _text("id", False),
            pa.field("ts", pa.timestamp("us"), False),  # request time, UTC
            pa.field("received", pa.timestamp("us"), False),  # arrival time, UTC
            _text("method", False),
            _text("namespace"),
            _text("repository"),
            _text("tag", False),
            _text("digest", False),
            pa.field("ip_hash", pa.binary(), False),  # HMAC-SHA256 of the address, 16 bytes
            # keyed hash of the authenticated user name (lake/user_hash.py), 16 bytes; NULL for
            # an anonymous request or a source that does not tell (schema version 2)
            pa.field("user_hash", pa.binary()),
            _text("user_agent", False),
            _text("source", False),
            *(
                _text(name, False)
                for name in (
                    "country",
                    "host",
                    "type",
                    "domain",
                    "user_agent_tool",
                    "user_agent_version",
                )
            ),
        ]
    ),
    "part-<batch>-<n>.parquet, one new file per run that adds requests to the day",
)

#: Stage 2: one row per action (docs/data-definitions.md); Docker Hub raw rows as well, with
#: no ``ip_hash`` and ``ruleset_version`` 0.
ACTIONS = LakeTable(
    "actions",
    pa.schema(
        [
            pa.field("timestamp", pa.timestamp("us")),
            pa.field("action_day", pa.date32()),
            *(
                _text(name)
                for name in (
                    "namespace",
                    "repository",
                    "reference",
                    "digest",
                    "tag",
                    "http_method",
                    "action",  # an ActionKind
                    "type",
                    "host",
                    "country",
                    "domain",
                    "user_agent_tool",
                    "user_agent_version",
                    "user_agent",
                )
            ),
            pa.field("ip_hash", pa.binary()),
            pa.field("user_hash", pa.binary()),  # the first request's (schema version 2)
            pa.field("ruleset_version", pa.int16()),
        ]
    ),
    "actions.parquet, the whole day, rewritten by every run that classifies it",
)

#: Stage 0→2: the actions of Docker Hub raw CSVs (``pullstats import dockerhub-csv``), one file
#: per imported file and day, appended to the day's actions by classification.
IMPORTED_ACTIONS = LakeTable(
    "imported",
    ACTIONS.schema,
    "part-<import id>.parquet (the CSV's sha256, and what it was given), one per import "
    "that has actions on the day",
)

#: Stage 0→3: Docker Hub summary rows, under ``imported-summaries/<week|month>/<start>/``
#: (partitioned by period, not by day), which the period's rollups join in.
IMPORTED_SUMMARIES = LakeTable(
    "imported-summaries",
    pa.schema(
        [
            *(_text(name) for name in ("level", "namespace", "repository", "reference")),
            *(
                pa.field(name, pa.int64())
                for name in ("pull_by_tag", "pull_by_digest", "version_check", "unique_ip_count")
            ),
        ]
    ),
    "part-<import id>.parquet, one per import that has rows in the period",
    "*/*/part-*.parquet",
)

#: Stage 0→(the trends datasets): the rows of Docker's DVP Core Trends reports as imported, under
#: ``imported-trends/<week|month>/<start>/``; their sums per repository and tag are imported
#: summaries too, which is what the rollups read.
IMPORTED_TRENDS = LakeTable(
    "imported-trends",
    pa.schema(
        [
            *(
                _text(name)
                for name in (
                    "namespace",
                    "repository",
                    "tag",
                    "country",
                    "cloud_provider",
                    "user_agent",
                )
            ),
            *(
                pa.field(name, pa.int64())
                for name in (
                    "data_downloads",
                    "version_checks",
                    "unique_authenticated_users",
                    "unique_unauthenticated_users",
                )
            ),
        ]
    ),
    "part-<import id>.parquet, one per imported Trends report with rows in the period",
    "*/*/part-*.parquet",
)

#: Stage 1, beside the requests: which registry request (Distribution's ``request.id``, which
#: its own log repeats) each notified request was, so that ``pullstats ingest registry-log``
#: can find the requests the registry refused (:mod:`pullstats.lake.refused`). Only requests
#: whose notification gave an id have a row; a row may repeat (a batch compacted again).
#: A table added beside the others changes nothing a release without it reads, so the lake's
#: schema version stays.
REGISTRY_IDS = LakeTable(
    "registry-ids",
    pa.schema([_text("id", False), _text("request_id", False)]),
    "part-<batch>-0.parquet, one new file per run that compacts notifications with an id",
)

TABLES = (
    REQUESTS,
    ACTIONS,
    IMPORTED_ACTIONS,
    IMPORTED_SUMMARIES,
    IMPORTED_TRENDS,
    REGISTRY_IDS,
)
