"""The SQL that normalises the rows of Docker's current ("DVP Core") reports into ``parsed`` rows.

Docker's *Insights and analytics* page documents two reports a publisher downloads as CSV:

- the **Summary** report: ``DATE_GRANULARITY``, ``DATE_REFERENCE``, ``PUBLISHER_NAME``, ``LEVEL``
  (``repository``, ``tag`` or ``digest``), ``REFERENCE`` (the repository, tag or digest),
  ``DATA_DOWNLOADS``, ``VERSION_CHECKS``, ``EVENT_COUNT`` (= the two added);
- the **Trends** report: the period, ``PUBLISHER_NAME``, ``IMAGE_REPOSITORY`` (``ns/repo``),
  ``NAMESPACE``, ``IP_COUNTRY``, ``CLOUD_SERVICE_PROVIDER`` (``no csp`` outside clouds),
  ``USER_AGENT`` (the client tool), ``TAG`` (``\\N`` when none was used), ``DATA_DOWNLOADS``,
  ``VERSION_CHECKS``, ``PULLS`` (= the two added), ``UNIQUE_AUTHENTICATED_USERS`` and
  ``UNIQUE_UNAUTHENTICATED_USERS``.

Both are period aggregates, not actions. Each row becomes one ``parsed`` row (:data:`PARSED_CORE`)
with its period, a rollup ``level`` and key, and the DVP counts it stands for: data downloads of
a tag are pulls by tag, of a digest pulls by digest, and of a repository (which the Summary does
not split) pulls by tag; a Trends row's downloads are pulls by tag unless its tag is ``\\N``. A
Trends row keeps level ``trend``: ``ingest.dockerhub_core_summaries`` adds them up per repository
and per tag. The mapping, and what is lost, is written in docs/dockerhub-import.md.

The Summary report has no repository column: a ``tag`` or ``digest`` row names its repository
in ``REFERENCE`` (``repo:tag``, ``ns/repo@sha256:…``) or in a ``REPOSITORY`` column, else it is a
``missing_repository`` row. Pure: it imports no engine.
"""

from __future__ import annotations

import pyarrow as pa

from pullstats.csv_cells import unformula_sql
from pullstats.ingest.dockerhub_columns import CORE_COLUMNS, FileKind
from pullstats.ingest.dockerhub_sql import (
    BAD_REPOSITORY,
    PARSED_SUMMARIES,
    PERIOD_ROW_DETAILS,
    PERIOD_ROW_PROBLEMS,
    bad_count_cell,
    capped_cell,
    count_cell,
    country_cell,
    period_day,
    trimmed_rows,
    unknown_cell,
)

__all__ = ["CORE_KINDS", "CORE_ROWS", "PARSED_CORE", "core_sql"]

#: The file kinds :func:`core_sql` reads.
CORE_KINDS = (FileKind.CORE_SUMMARY, FileKind.CORE_TRENDS)

#: ``csv_rows`` of a DVP Core report.
CORE_ROWS = pa.schema([("rn", pa.int64()), *((column, pa.string()) for column in CORE_COLUMNS)])

#: ``parsed``: a legacy summary's columns, and what only a Trends report says.
PARSED_CORE = pa.schema(
    [
        *PARSED_SUMMARIES,
        ("country", pa.string()),
        ("cloud_provider", pa.string()),
        ("user_agent", pa.string()),
        ("unique_authenticated_users", pa.int64()),
        ("unique_unauthenticated_users", pa.int64()),
    ]
)

#: What Docker writes for "nothing" in these reports: ``null`` and the SQL-dump ``\N`` (lower
#: case, as :func:`unknown_cell` compares).
_NOTHING = ("null", "\\n")


def _unknown(column: str) -> str:
    return unknown_cell(column, _NOTHING)


def _shown(column: str) -> str:
    """``DATA_DOWNLOADS 12``, for a count cell the file has; NULL otherwise."""
    name = "VERSION_CHECKS" if column == "version_check" else column.upper()
    return f"'{name} ' || nullif({column}, '')"


def _without_namespace(column: str) -> str:
    """``ns/repo`` → ``repo`` when ``ns`` is the row's namespace (``owner``) or publisher."""
    return (
        f"CASE WHEN owner <> '' AND starts_with({column}, owner || '/') "
        f"THEN {column}[length(owner) + 2:] "
        f"WHEN publisher_name <> '' AND starts_with({column}, publisher_name || '/') "
        f"THEN {column}[length(publisher_name) + 2:] ELSE {column} END"
    )


def _summary_key() -> str:
    """A Summary row's rollup level, its repository text (still with any namespace) and its
    reference: ``REFERENCE`` split as ``repo:tag`` or ``repo@digest`` at levels tag and digest."""
    return """
        CASE lower(level) WHEN 'repository' THEN 'repository'
             WHEN 'tag' THEN 'reference' WHEN 'digest' THEN 'reference' END AS row_level,
        lower(level) AS level_name,
        reference AS reference_text,
        CASE
            WHEN lower(level) = 'repository' THEN reference
            WHEN lower(level) = 'tag' AND contains(reference, ':')
                THEN split_part(reference, ':', 1)
            WHEN lower(level) = 'digest' AND contains(reference, '@')
                THEN split_part(reference, '@', 1)
            ELSE repository
        END AS repository_text,
        CASE
            WHEN lower(level) = 'repository' THEN ''
            WHEN lower(level) = 'tag' AND contains(reference, ':')
                THEN split_part(reference, ':', 2)
            WHEN lower(level) = 'digest' AND contains(reference, '@')
                THEN split_part(reference, '@', 2)
            ELSE reference
        END AS row_reference,
        -- a tag has no ':' and a digest one: more is not a reference
        (lower(level) = 'tag' AND length(reference) - length(replace(reference, ':', '')) > 1)
            OR (lower(level) = 'digest' AND contains(split_part(reference, '@', 2), '@'))
            AS bad_reference"""


def _trends_key() -> str:
    """A Trends row: level ``trend``, its repository text and its tag as its reference."""
    return f"""
        'trend' AS row_level,
        'trend' AS level_name,
        tag AS reference_text,
        CASE WHEN image_repository <> '' THEN image_repository ELSE repository END
            AS repository_text,
        {_unknown(unformula_sql("tag"))} AS row_reference,
        false AS bad_reference"""


def core_sql(kind: FileKind) -> str:
    """``parsed``: a DVP Core report's rows (``kind``) with their problem, period, level, key and
    counts; the accepted window is ``$earliest_us`` to ``$latest_us``.

    The namespace is the row's ``NAMESPACE``, else ``PUBLISHER_NAME`` (the importer puts
    ``--namespace`` in a file's missing Namespace column). When ``DATA_DOWNLOADS`` or
    ``VERSION_CHECKS`` is missing it is the total (``EVENT_COUNT``, ``PULLS``) less the other; a
    row whose counts do not add up is a ``bad_count`` row."""
    key = _summary_key() if kind is FileKind.CORE_SUMMARY else _trends_key()
    counts = ("data_downloads", "version_check", "event_count", "pulls")
    users = ("unique_authenticated_users", "unique_unauthenticated_users")
    bad_cells = " OR ".join(bad_count_cell(column) for column in (*counts, *users))
    return f"""
        WITH t AS ({trimmed_rows(CORE_COLUMNS)}),
        k AS (
            SELECT
                t.*,
                CASE WHEN namespace <> '' THEN namespace ELSE publisher_name END AS owner,
                {key}
            FROM t
        ),
        n AS (
            SELECT
                rn,
                owner AS namespace,
                row_level AS level,
                level_name,
                level AS level_text,
                row_reference AS reference,
                reference_text,
                bad_reference,
                {_without_namespace("repository_text")} AS repository,
                {period_day("date_reference")} AS first_day,
                lower(date_granularity) AS granularity,
                date_granularity || ' ' || date_reference AS period_text,
                {country_cell(_unknown("ip_country"))} AS country,
                {capped_cell(unknown_cell("lower(cloud_service_provider)", ("no csp", *_NOTHING)))}
                    AS cloud_provider,
                {capped_cell(_unknown(unformula_sql("user_agent")))} AS user_agent,
                {bad_cells} AS bad_cell,
                concat_ws(', ', {", ".join(_shown(column) for column in counts)}) AS count_text,
                {", ".join(f"{count_cell(column)} AS {column}_n" for column in (*counts, *users))}
            FROM k
        ), c AS (
            SELECT *,
                coalesce(event_count_n, pulls_n) AS total_n,
                coalesce(data_downloads_n,
                         coalesce(event_count_n, pulls_n) - coalesce(version_check_n, 0), 0)
                    AS downloads,
                coalesce(version_check_n,
                         coalesce(event_count_n, pulls_n) - data_downloads_n, 0) AS checks,
                CASE WHEN granularity IN ('week', 'weekly') AND isodow(first_day) = 1
                        THEN 'week'
                     WHEN granularity IN ('month', 'monthly') AND day(first_day) = 1
                        THEN 'month' END AS period_kind
            FROM n
        ), v AS (
            SELECT *,
                bad_cell OR downloads < 0 OR checks < 0
                    OR (event_count_n IS NOT NULL AND pulls_n IS NOT NULL
                        AND event_count_n <> pulls_n)
                    OR (total_n IS NOT NULL AND downloads + checks <> total_n) AS bad_count
            FROM c
        )
        SELECT
            rn,
            CASE
                {PERIOD_ROW_PROBLEMS}
                WHEN level IS NULL THEN 'unknown_level'
                WHEN repository = '' THEN 'missing_repository'
                WHEN {BAD_REPOSITORY} THEN 'invalid_repository'
                WHEN level = 'reference' AND (reference = '' OR bad_reference)
                    THEN 'missing_reference'
                WHEN bad_count THEN 'bad_count'
            END AS problem,
            CASE {PERIOD_ROW_DETAILS}
                 WHEN level IS NULL THEN level_text
                 WHEN repository = '' THEN left(reference_text, 80)
                 WHEN {BAD_REPOSITORY} THEN left(repository, 80)
                 WHEN level = 'reference' AND (reference = '' OR bad_reference)
                    THEN left(reference_text, 80)
                 WHEN bad_count THEN count_text ELSE '' END AS detail,
            period_kind,
            first_day AS period_start,
            level,
            namespace,
            repository,
            reference,
            CASE WHEN level_name = 'digest' OR (level = 'trend' AND reference = '') THEN 0
                 ELSE downloads END AS pull_by_tag,
            CASE WHEN level_name = 'digest' OR (level = 'trend' AND reference = '')
                 THEN downloads ELSE 0 END AS pull_by_digest,
            checks AS version_check,
            CAST(0 AS BIGINT) AS unique_ip_count,  -- Docker's reports count users, not IPs
            country,
            cloud_provider,
            user_agent,
            unique_authenticated_users_n AS unique_authenticated_users,
            unique_unauthenticated_users_n AS unique_unauthenticated_users
        FROM v
    """
