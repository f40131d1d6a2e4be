"""The SQL that normalises Docker Hub DVP CSV rows into ``parsed`` rows, one row per file row.

Both queries (the steps ``ingest.dockerhub_raw`` and ``ingest.dockerhub_summary``) read
``csv_rows``, a file's rows under their canonical names (``rn``, the row's number, then every
column VARCHAR, NULL when the file lacks it), and keep every row: a row that cannot be imported
gets a ``problem`` (one of ``dockerhub_csv.SKIP_REASONS``) and a ``detail`` to show, so bad rows
are counted, reported and left out while the rest is written. Cells are trimmed once in a first
step and then only touched with plain string functions: a regular expression per cell costs
seconds per million rows. The accepted window is ``$earliest_us`` to ``$latest_us`` (µs since
the epoch, ingest/time_window.py). Pure: it imports no engine.
"""

from __future__ import annotations

import pyarrow as pa

from pullstats.csv_cells import unformula_sql
from pullstats.dvp_columns import ACTION_KINDS, ActionKind
from pullstats.ingest.dockerhub_columns import (
    COUNT_COLUMNS,
    RAW_COLUMNS,
    SUMMARY_COLUMNS,
    FileKind,
)
from pullstats.ingest.notifications import DIGEST, MAX_UTC_OFFSET, TAG
from pullstats.lake_schema import ACTIONS, IMPORTED_SUMMARIES
from pullstats.names import namespace_name_sql, repository_name_sql
from pullstats.sql_literals import sql_text

#: The file kinds :func:`summary_sql` reads.
SUMMARY_KINDS = (FileKind.SUMMARY, FileKind.REPO_SUMMARY, FileKind.NAMESPACE_SUMMARY)


def _rows(columns: tuple[str, ...]) -> pa.Schema:
    return pa.schema([("rn", pa.int64()), *((column, pa.string()) for column in columns)])


#: ``csv_rows`` of a raw file and of a summary file.
RAW_ROWS = _rows(RAW_COLUMNS)
SUMMARY_ROWS = _rows(SUMMARY_COLUMNS)

_PROBLEM = [("rn", pa.int64()), ("problem", pa.string()), ("detail", pa.string())]
#: ``parsed``: what every kind of file's rows have, and those of a raw and a summary file.
PARSED_PROBLEMS = pa.schema(_PROBLEM)
PARSED_NAMESPACES = pa.schema([*_PROBLEM, ("namespace", pa.string())])
PARSED_RAW = pa.schema([*_PROBLEM, *ACTIONS.schema])
PARSED_SUMMARIES = pa.schema(
    [
        *_PROBLEM,
        ("period_kind", pa.string()),
        ("period_start", pa.date32()),
        *IMPORTED_SUMMARIES.schema,
    ]
)

#: A namespace (pullstats.names) outside the grammar or longer than its limit.
BAD_NAMESPACE = f"NOT {namespace_name_sql('namespace')}"
_KINDS = ", ".join(sql_text(kind) for kind in ACTION_KINDS)
_VERSION_CHECK = sql_text(ActionKind.VERSION_CHECK)
#: A tag or reference that is neither a tag nor a digest, and a digest that is not one: the
#: notifications' patterns (the record rules' too); one pattern of alternatives, as access logs.
_BAD_TAG = f"(tag <> '' AND NOT regexp_full_match(tag, '{TAG.pattern}'))"
_BAD_REFERENCE = (
    f"{_BAD_TAG} OR (reference <> '' "
    f"AND NOT regexp_full_match(reference, '{TAG.pattern}|{DIGEST.pattern}'))"
)
_BAD_DIGEST = f"digest <> '' AND NOT regexp_full_match(digest, '{DIGEST.pattern}')"
#: The whole name, namespace/repository, outside the grammar or Distribution's length limit.
BAD_REPOSITORY = "NOT " + repository_name_sql("(namespace || '/' || repository)")


def trimmed_rows(columns: tuple[str, ...], keep: tuple[str, ...] = ()) -> str:
    """``csv_rows`` with each column trimmed and NULL made '' (the ``keep`` columns not
    trimmed)."""
    selected = ", ".join(
        f"coalesce({c}, '') AS {c}" if c in keep else f"coalesce(trim({c}), '') AS {c}"
        for c in columns
    )
    return f"SELECT rn, {selected} FROM csv_rows"


def period_day(column: str) -> str:
    """A period bound → DATE: a timestamp's UTC day, or a bare ``YYYY-MM-DD``; else NULL."""
    return (
        f"coalesce(CAST({_instant(column)} AS DATE), "
        f"CASE WHEN length({column}) = 10 THEN try_cast({column} AS DATE) END)"
    )


def unknown_cell(column: str, marks: tuple[str, ...] = ("null",)) -> str:
    """A descriptive cell, with Docker's marks of nothing (``null``; any case) made pullstats'
    own unknown, ''."""
    listed = ", ".join(sql_text(mark) for mark in marks)
    return f"CASE WHEN lower({column}) IN ({listed}) THEN '' ELSE {column} END"


#: The longest descriptive cell kept (the user agent's limit on every ingest path): the rest
#: of a longer one is cut off, as a notification's user agent is.
MAX_CELL_LENGTH = 1024


def capped_cell(cell: str) -> str:
    """A descriptive cell, cut to :data:`MAX_CELL_LENGTH` characters."""
    return f"left({cell}, {MAX_CELL_LENGTH})"


def country_cell(cell: str) -> str:
    """A country cell as the enrichment writes one, an ISO 3166-1 alpha-2 code in capitals;
    anything else is unknown, ''. A plain comparison per letter, not a regular expression."""
    code = f"upper({cell})"
    letters = " AND ".join(f"substr({code}, {i}, 1) BETWEEN 'A' AND 'Z'" for i in (1, 2))
    return f"CASE WHEN length({cell}) = 2 AND {letters} THEN {code} ELSE '' END"


#: The most digits a count cell may have: under a trillion, far above any real period's count
#: of one row, and far enough below BIGINT's limit that the rollups' sums of such counts never
#: overflow (one cell of 2**63 - 1 had made every later ``process`` fail).
MAX_COUNT_DIGITS = 12


def _digits(column: str) -> str:
    """Whether a cell is 1 to :data:`MAX_COUNT_DIGITS` digits and nothing else: a cast alone
    took 2.5 as 3, 1e3 and 1_000 as 1000 and 0x10 as 16. String functions, not a regular
    expression, as for countries."""
    digits_only = f"ltrim({column}, '0123456789') = ''"
    return f"(length({column}) BETWEEN 1 AND {MAX_COUNT_DIGITS} AND {digits_only})"


def count_cell(column: str) -> str:
    """A count cell → BIGINT; NULL when empty or not a whole number written in digits."""
    return f"CASE WHEN {_digits(column)} THEN CAST({column} AS BIGINT) END"


def bad_count_cell(column: str) -> str:
    """Whether a count cell is given but is not a non-negative whole number in digits."""
    return f"({column} <> '' AND NOT {_digits(column)})"


def _instant(column: str) -> str:
    """A trimmed timestamp text → TIMESTAMPTZ, or NULL when it is not one.

    DuckDB reads ``…T…Z``, ``… UTC``, offsets and fractions; a bare date is refused (a raw row
    is one action at one instant) and a timestamp without a zone is taken as UTC. An offset past
    ±14:00 is refused, as notifications and access logs refuse it (no clock is further off UTC:
    :data:`pullstats.ingest.notifications.MAX_UTC_OFFSET`): the wall time, read without its
    zone, is that far from the instant. So is one whose minutes pass 59, or that has seconds.
    """
    instant = f"try_cast({column} AS TIMESTAMPTZ)"
    offset = f"abs(epoch_us(try_cast({column} AS TIMESTAMP)) - epoch_us({instant}))"
    # Docker's own ``…Z`` (and ``… UTC``) skip the second cast: no offset to check
    utc = f"(right({column}, 1) IN ('Z', 'z') OR ends_with({column}, ' UTC'))"
    # a numeric offset is ±HH, ±HHMM or ±HH:MM right after the time (or a space), its minutes
    # under 60, as notifications and access logs read one: DuckDB took +05:60 and +0560 as
    # +06:00, +00:00:30 as +00:00 and UTC+14:30 as +14:00
    numeric = f"regexp_matches({column}, '[+-][0-9:]+$')"
    well_formed = f"regexp_matches({column}, '[0-9 ][+-][0-9]{{2}}(:?[0-5][0-9])?$')"
    return (
        f"CASE WHEN length({column}) >= 16 AND substr({column}, 11, 1) IN ('T', 't', ' ') "
        f"AND ({utc} OR ({offset} <= {_MAX_OFFSET_US} AND (NOT {numeric} OR {well_formed}))) "
        f"THEN {instant} END"
    )


#: The furthest a clock is from UTC, in µs: +14:00 (the notifications' MAX_UTC_OFFSET).
_MAX_OFFSET_US = (int(MAX_UTC_OFFSET[:2]) * 60 + int(MAX_UTC_OFFSET[2:])) * 60 * 1_000_000


#: Docker may write the repository with its namespace ("acme/api"); the lake keeps "api".
_REPOSITORY = (
    "CASE WHEN starts_with(repository, namespace || '/') "
    "THEN repository[length(namespace) + 2:] ELSE repository END"
)


def outside_window(instant: str) -> str:
    """Whether TIMESTAMPTZ ``instant`` lies outside the accepted window."""
    return f"(epoch_us({instant}) < $earliest_us OR epoch_us({instant}) > $latest_us)"


#: A period row's first problems: its namespace (``namespace``), then its period
#: (``period_kind`` NULL when not a whole week or month, starting on ``first_day``).
PERIOD_ROW_PROBLEMS = f"""WHEN namespace = '' THEN 'missing_namespace'
                WHEN {BAD_NAMESPACE} THEN 'invalid_namespace'
                WHEN period_kind IS NULL THEN 'bad_period'
                WHEN {outside_window("CAST(first_day AS TIMESTAMPTZ)")}
                    THEN 'period_out_of_range'"""

#: What a period row's first problems show: its namespace, or ``period_text``.
PERIOD_ROW_DETAILS = f"""WHEN namespace = '' THEN ''
                 WHEN {BAD_NAMESPACE} THEN left(namespace, 80)
                 WHEN period_kind IS NULL OR {outside_window("CAST(first_day AS TIMESTAMPTZ)")}
                    THEN period_text"""


def raw_sql() -> str:
    """``parsed``: ``rn``, ``problem``, ``detail`` and the action columns of the classifier;
    an action timed outside the window is a ``timestamp_out_of_range`` problem."""
    return f"""
        WITH t AS ({trimmed_rows(RAW_COLUMNS, keep=("user_agent",))}),
        n AS (
            SELECT
                rn,
                {_instant("timestamp")} AS instant,
                timestamp AS timestamp_text,
                namespace,
                {_REPOSITORY} AS repository,
                {unformula_sql("reference")} AS reference,
                digest,
                {unformula_sql("tag")} AS tag,
                upper(http_method) AS http_method,
                replace(replace(lower(action), ' ', '_'), '-', '_') AS action,
                action AS action_text,
                {capped_cell(unknown_cell("type"))} AS type,
                {capped_cell(unknown_cell("host"))} AS host,
                {country_cell(unknown_cell("country"))} AS country,
                {capped_cell(unknown_cell("domain"))} AS domain,
                {capped_cell(unknown_cell("user_agent_tool"))} AS user_agent_tool,
                {capped_cell(unknown_cell(unformula_sql("user_agent_version")))}
                    AS user_agent_version,
                {capped_cell(unformula_sql("user_agent"))} AS user_agent
            FROM t
        )
        SELECT
            rn,
            CASE
                WHEN namespace = '' THEN 'missing_namespace'
                WHEN {BAD_NAMESPACE} THEN 'invalid_namespace'
                WHEN instant IS NULL THEN 'bad_timestamp'
                WHEN {outside_window("instant")} THEN 'timestamp_out_of_range'
                WHEN action NOT IN ({_KINDS})
                    THEN 'unknown_action'
                WHEN repository = '' THEN 'missing_repository'
                WHEN {BAD_REPOSITORY} THEN 'invalid_repository'
                WHEN reference = '' AND tag = '' AND digest = '' THEN 'missing_reference'
                WHEN {_BAD_REFERENCE} THEN 'invalid_reference'
                WHEN {_BAD_DIGEST} THEN 'invalid_digest'
            END AS problem,
            CASE
                WHEN namespace = '' THEN ''
                WHEN {BAD_NAMESPACE} THEN left(namespace, 80)
                WHEN instant IS NULL OR {outside_window("instant")} THEN timestamp_text
                WHEN action NOT IN ({_KINDS})
                    THEN action_text
                WHEN repository <> '' AND {BAD_REPOSITORY} THEN left(repository, 80)
                WHEN reference = '' AND tag = '' AND digest = '' THEN action_text
                WHEN {_BAD_REFERENCE}
                    THEN left(CASE WHEN {_BAD_TAG} THEN tag ELSE reference END, 80)
                WHEN {_BAD_DIGEST} THEN left(digest, 80)
                ELSE action_text
            END AS detail,
            CAST(instant AS TIMESTAMP) AS timestamp,
            CAST(instant AS DATE) AS action_day,
            namespace,
            repository,
            -- the reference is the tag for actions by tag, else the digest
            CASE WHEN reference <> '' THEN reference WHEN tag <> '' THEN tag ELSE digest END
                AS reference,
            digest,
            tag,
            CASE WHEN http_method <> '' THEN http_method
                 WHEN action = {_VERSION_CHECK} THEN 'HEAD' ELSE 'GET' END AS http_method,
            action,
            type,
            host,
            country,
            domain,
            user_agent_tool,
            user_agent_version,
            user_agent,
            NULL::BLOB AS ip_hash,  -- Docker Hub exports carry no IPs
            NULL::BLOB AS user_hash,  -- nor users
            0::SMALLINT AS ruleset_version  -- 0 marks an imported action, not a classified one
        FROM n
    """


def summary_sql(kind: FileKind, period_in_file: bool) -> str:
    """``parsed``: a ``kind`` file's summary rows with their period and level; the period is
    ``$period_start`` to ``$period_end`` (DATEs) unless ``period_in_file``.

    A period starting outside the window is a ``period_out_of_range`` problem."""
    if period_in_file:
        first, last = period_day("period_start"), period_day("period_end")
        text = "period_start || ' – ' || period_end"
    else:  # the file has no period columns: show the period given
        first, last = "$period_start", "$period_end"
        text = "CAST($period_start AS VARCHAR) || ' – ' || CAST($period_end AS VARCHAR)"
    casts = {c: count_cell(c) for c in COUNT_COLUMNS}
    bad_count = " OR ".join(bad_count_cell(c) for c in COUNT_COLUMNS)
    needs_repository = kind in (FileKind.SUMMARY, FileKind.REPO_SUMMARY)
    needs_reference = kind is FileKind.SUMMARY
    bad_repository = f"repository <> '' AND {BAD_REPOSITORY}" if needs_repository else "false"
    columns = ("period_start", "period_end", "namespace", "repository", "reference")
    return f"""
        WITH t AS ({trimmed_rows(columns + COUNT_COLUMNS)}),
        n AS (
            SELECT
                rn,
                -- a period starts on a Monday and ends 6 days later, or spans a calendar month
                {first} AS first_day,
                {last} AS last_day,
                {text} AS period_text,
                namespace,
                {_REPOSITORY if needs_repository else "''"} AS repository,
                {unformula_sql("reference") if needs_reference else "''"} AS reference,
                {bad_count} AS bad_count,
                concat_ws(', ', {", ".join(COUNT_COLUMNS)}) AS count_text,
                {", ".join(f"coalesce({cast}, 0) AS {c}" for c, cast in casts.items())}
            FROM t
        ), p AS (
            SELECT *,
                CASE
                    WHEN isodow(first_day) = 1 AND last_day = first_day + 6 THEN 'week'
                    WHEN day(first_day) = 1 AND last_day = last_day(first_day) THEN 'month'
                END AS period_kind
            FROM n
        )
        SELECT
            rn,
            CASE
                {PERIOD_ROW_PROBLEMS}
                WHEN repository = '' AND {needs_repository} THEN 'missing_repository'
                WHEN {bad_repository} THEN 'invalid_repository'
                WHEN reference = '' AND {needs_reference} THEN 'missing_reference'
                WHEN bad_count THEN 'bad_count'
            END AS problem,
            CASE {PERIOD_ROW_DETAILS}
                 WHEN {bad_repository} THEN left(repository, 80)
                 WHEN bad_count THEN count_text ELSE '' END AS detail,
            period_kind,
            first_day AS period_start,
            {sql_text(kind.level)} AS level,
            namespace,
            repository,
            reference,
            pull_by_tag,
            pull_by_digest,
            version_check,
            unique_ip_count
        FROM p
    """
