"""The access-log line formats pullstats reads, and the SQL that reads them in DuckDB.

Two formats, both written by the log's own software: ``combined`` (nginx's predefined format,
and the Distribution registry's own log through gorilla's ``CombinedLoggingHandler``) and
``pullstats`` (combined plus `` $msec "$upstream_http_docker_content_digest"``). This module
holds their grammar (the whole-line pattern and the quick match of the pieces between quotes),
the reasons a line is skipped, the SQL that classifies every line of a run of chunks in one
query (:func:`classify_sql`, the step ``ingest.log_lines``; the other queries
:class:`~pullstats.ingest.access_logs.LogParser` runs are ``log_*.sql`` beside this module) and
the schemas of the tables they read. Pure: it imports no engine.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa

from pullstats.drop_reasons import ACCESS_LOG_ERRORS, ACCESS_LOG_IGNORED
from pullstats.ingest.notifications import DIGEST, TAG, utc_offset_sql
from pullstats.ingest.records import user_name_sql
from pullstats.names import repository_name_sql
from pullstats.sql_literals import sql_text

LogFormat = Literal["auto", "combined", "pullstats"]


LOG_FORMATS: tuple[LogFormat, ...] = ("auto", "combined", "pullstats")


#: Why a well-formed line is not a request (nothing is wrong with it).
IGNORED_REASONS = ACCESS_LOG_IGNORED


#: Why a line is bad input; the first few are reported with their file and line number.
ERROR_REASONS = ACCESS_LOG_ERRORS


SKIP_REASONS = IGNORED_REASONS + ERROR_REASONS


# A quoted field as both writers escape it: nginx writes " and \ as \x22 and \x5C, gorilla
# writes \" and \\; either way a raw " never appears inside.
_QUOTED = r'"((?:[^"\\]|\\.)*)"'


# The user a request keeps (ingest/records.py user_name): as written, or with nginx's escapes of
# " and \ undone, as for the user agent.
_USER_AS_WRITTEN = user_name_sql("user")
_USER_DECODED = user_name_sql("replace(replace(user, '\\x22', '\"'), '\\x5C', '\\')")


# addr, ident, user, [time], up to the request. None of the first three holds a space, so the
# user is the head's third space-separated piece (how both paths take it: it has no group).
_HEAD = r"(\S+) \S+ \S+ \[([^\]]*)\] "


_STATUS = r" ([0-9]{3}) (?:[0-9]+|-) "  # between the request and the referer


_MSEC = r" ([0-9]{1,12}\.[0-9]{3}) "  # between the user agent and the digest


_COMBINED = "^" + _HEAD + _QUOTED + _STATUS + r'"(?:[^"\\]|\\.)*" ' + _QUOTED


_PULLSTATS_TAIL = _MSEC + _QUOTED


_LINE_END = r"\r?\n?$"


# The registry's grammar, taken from the notification parser so both sources agree.
_IPV4 = r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}"


_IPV6 = r"[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*"


def quick_match(log_format: LogFormat) -> str:
    """A SQL condition on ``p``, a line split at its quotes, for lines without an escaped quote
    (``\\"``): it holds only if the line matches :func:`line_pattern` with each quoted field
    between two consecutive quotes, so the pieces are the fields. A line it does not hold for
    is left to the whole pattern.

    Without an escaped quote a quoted piece may hold any text, so only the short pieces
    between the quoted fields are matched, each against its part of the pattern. Most of a
    line is in its quoted fields (request, user agent, digest): this costs about half of
    matching the whole line.
    """
    ends = "('', E'\\n', E'\\r\\n', E'\\r')"  # what _LINE_END allows after the last quote
    combined = f"(len(p) = 7 AND p[7] IN {ends})"
    pullstats = f"(len(p) = 9 AND p[9] IN {ends} AND regexp_full_match(p[7], '{_MSEC}'))"
    tail = {"combined": combined, "pullstats": pullstats}.get(log_format)
    return (
        f"p[5] = ' ' AND {tail or f'({combined} OR {pullstats})'}"
        f" AND regexp_full_match(p[3], '{_STATUS}') AND regexp_full_match(p[1], '{_HEAD}')"
    )


def line_pattern(log_format: LogFormat) -> str:
    """The RE2 pattern of a whole line; groups: addr, time, request, status, ua[, msec, digest]."""
    if log_format == "combined":
        return _COMBINED + "()()" + _LINE_END  # empty msec and digest groups keep the shape
    if log_format == "pullstats":
        return _COMBINED + _PULLSTATS_TAIL + _LINE_END
    return _COMBINED + f"(?:{_PULLSTATS_TAIL})?" + _LINE_END


# One pass over the chunks (``log_chunk``: n, line). A line is cut at its quotes, as no quoted
# field can hold a raw quote, and the short pieces between the quoted fields are matched
# (quick_match). A line with an escaped quote (\", written by gorilla), a quote outside the quoted
# fields or pieces that do not match is left to the whole line pattern: only *matched* (a DFA,
# several times faster than extracting its groups), then split by the pattern's groups. Most lines
# of a registry's log are blobs and pings: only lines that may be manifest requests (candidates)
# are cut into all their fields and checked; every expression is under a CASE, so DuckDB evaluates
# it for the rows that need it (a struct of fields cost more than all the rest). The reasons are
# tested in this order, so a PUT that got a 404 is a push, and a GET of a blob is a blob.
_CLASSIFY_SQL = f"""
WITH lines AS (
    SELECT n, line, p, cut,
        CASE WHEN cut THEN true ELSE regexp_matches(line, $pattern) END AS ok,
        CASE WHEN cut THEN p[2] WHEN NOT ok THEN ''
            ELSE regexp_extract(line, $pattern, 3) END AS request
    FROM (
        -- six quotes are a combined line's, eight (the seventh piece holding msec) a pullstats
        -- line's; other counts, or the pieces between the quoted fields not matching theirs,
        -- leave the line to the whole pattern (which allows a quote in the user and [time])
        SELECT n, line, p,
            coalesce($cut AND NOT contains(line, '\\"') AND {{quick}}, false) AS cut
        FROM (SELECT *, CASE WHEN $cut THEN string_split(line, '"') END AS p FROM log_chunk)
    )
),
routed AS (
    SELECT *,
        ok AND suffix(line, E'\\n') AND contains(request, '/manifests/') AS candidate,
        split_part(split_part(split_part(request, ' ', 2), '?', 1), '#', 1) AS path
    FROM lines
),
fields AS (
    SELECT n, line, ok, candidate, path,
        CASE WHEN NOT candidate THEN NULL WHEN cut THEN split_part(p[1], ' ', 1)
            ELSE regexp_extract(line, $pattern, 1) END AS addr,
        -- the pullstats format's time is its msec field; [time_local] only for combined lines
        -- (the user before it may hold brackets, so it is found by the pattern's own piece)
        CASE WHEN NOT candidate THEN NULL WHEN NOT cut THEN regexp_extract(line, $pattern, 2)
            WHEN len(p) = 7 THEN regexp_extract(p[1], '^{_HEAD}$', 2)
            ELSE '' END AS time,
        CASE WHEN NOT candidate THEN NULL WHEN cut THEN p[3][2:4]
            ELSE regexp_extract(line, $pattern, 4) END AS status,
        CASE WHEN NOT candidate THEN NULL WHEN cut THEN p[6]
            ELSE regexp_extract(line, $pattern, 5) END AS ua,
        -- the user (nginx's remote_user) as written: the head's third piece (the line's own
        -- when it was not cut), which the pattern matched as \\S+
        CASE WHEN NOT candidate THEN NULL WHEN cut THEN split_part(p[1], ' ', 3)
            ELSE split_part(line, ' ', 3) END AS user,
        CASE WHEN NOT candidate THEN NULL WHEN NOT cut THEN regexp_extract(line, $pattern, 6)
            WHEN len(p) = 9 THEN trim(p[7]) ELSE '' END AS msec,
        CASE WHEN NOT candidate THEN NULL WHEN NOT cut THEN regexp_extract(line, $pattern, 7)
            WHEN len(p) = 9 THEN p[8] ELSE '' END AS digest,
        CASE WHEN candidate THEN split_part(request, ' ', 1) END AS method,
        CASE WHEN candidate THEN split_part(path, '/', -1) END AS last
    FROM routed
),
paths AS (
    SELECT *,
        replace(replace(last, '%3A', ':'), '%3a', ':') AS reference,
        candidate AND prefix(path, '/v2/') AND length(path) > 4 + 11 + length(last)
            AND suffix(path, '/manifests/' || last) AS is_manifest,
        CASE
            WHEN msec <> '' THEN CAST(replace(msec, '.', '') AS BIGINT) * 1000
            -- an offset a clock has (the notifications' rule; text comparison: a digit that
            -- is not one fails either way)
            WHEN time <> '' AND {utc_offset_sql("substr(time, -4)")}
                THEN epoch_us(try_strptime(time, '%d/%b/%Y:%H:%M:%S %z'))
        END AS ts
    FROM fields
),
named AS (
    SELECT *,
        CASE WHEN is_manifest THEN path[5:length(path) - 11 - length(last)] END AS name
    FROM paths
),
reasons AS (
    SELECT *,
        CASE
            WHEN NOT suffix(line, E'\\n') THEN 'unterminated'
            WHEN NOT ok THEN
                CASE WHEN trim(line, E' \\t\\r\\n') = '' THEN 'blank' ELSE 'unparseable' END
            WHEN NOT is_manifest AND prefix(path, '/v2/') AND contains(path, '/blobs/')
                THEN 'blob_request'
            WHEN NOT is_manifest THEN 'not_manifest'
            WHEN ts IS NULL THEN 'invalid_time'
            WHEN ts < $earliest_us OR ts > $latest_us THEN 'timestamp_out_of_range'
            WHEN method = 'PUT' THEN 'push'
            WHEN method = 'DELETE' THEN 'delete'
            WHEN method NOT IN ('GET', 'HEAD') THEN 'method'
            WHEN NOT status LIKE '2__' THEN 'non_2xx'
            WHEN NOT {repository_name_sql("name")} THEN 'invalid_name'
            -- one pattern of alternatives (a full match anchors them all) costs a quarter less
            -- than two patterns
            WHEN NOT regexp_full_match(reference, '{TAG.pattern}|{DIGEST.pattern}')
                THEN 'invalid_reference'
            WHEN NOT regexp_full_match(addr, '{_IPV4}|{_IPV6}') THEN 'invalid_address'
            WHEN digest NOT IN ('', '-')
                AND NOT regexp_full_match(digest, '{DIGEST.pattern}')
                THEN 'invalid_digest'
        END AS reason
    FROM named
)
-- a request's spool row (its id for the first occurrence of its text: parse numbers repeats);
-- the text only where the report needs it (errors)
SELECT n, reason,
    -- the text with a Unix line end: a copy with CRLF ends (unix2dos, a log that went through
    -- Windows) is the same requests, and must not be counted again
    CASE WHEN reason IS NULL THEN 'log-' || md5(CASE WHEN suffix(line, E'\\r\\n')
        THEN left(line, -2) || E'\\n' ELSE line END) || '-1' END AS id,
    CASE WHEN reason IS NULL THEN ts END AS ts,
    CASE WHEN reason IS NULL THEN method END AS method,
    CASE WHEN reason IS NULL THEN name END AS name,
    CASE WHEN reason IS NOT NULL THEN NULL WHEN contains(reference, ':') THEN ''
        ELSE reference END AS tag,
    CASE WHEN reason IS NOT NULL THEN NULL WHEN contains(reference, ':') THEN reference
        WHEN digest = '-' THEN '' ELSE digest END AS digest,
    -- as written: parse normalises the addresses that are not canonical IPv4
    CASE WHEN reason IS NULL THEN addr END AS ip,
    CASE WHEN reason IS NOT NULL THEN NULL
        WHEN ua = '-' THEN ''
        WHEN NOT contains(ua, '\\') THEN left(ua, 1024)
        WHEN contains(ua, '\\x') THEN left(replace(replace(ua, '\\x22', '"'), '\\x5C', '\\'), 1024)
        ELSE left(replace(replace(ua, '\\"', '"'), '\\\\', '\\'), 1024)
    END AS ua,
    CASE WHEN reason IS NULL THEN 'log' END AS src,
    -- an arrival time that follows the file's order: it breaks ties within a second
    $received_us + n AS recv,
    -- the user: nginx writes - for none and escapes " and \\ as \\x22 and \\x5C (undone as
    -- for the user agent); gorilla writes the user of the request's URL (user@host, in practice
    -- always -) unescaped, so its \\" and \\\\ are left as they are
    CASE WHEN reason IS NOT NULL THEN NULL
        WHEN user = '-' THEN ''
        WHEN NOT contains(user, '\\x') THEN {_USER_AS_WRITTEN}
        ELSE {_USER_DECODED}
    END AS user,
    CASE WHEN reason IN ({", ".join(sql_text(reason) for reason in ERROR_REASONS)}) THEN line END
        AS line
FROM reasons
"""


def classify_sql(log_format: LogFormat) -> str:
    """The ``ingest.log_lines`` query: every line of ``log_chunk`` with its skip reason, and a
    request's spool columns when it has none (the columns of :data:`LOG_LINES_SCHEMA`).

    Its parameters: ``$pattern`` (:func:`line_pattern` of the format), ``$cut`` (whether lines
    are cut at their quotes: see :func:`quick_match`), ``$received_us`` (the import's time, to
    which a line's number is added) and the accepted window, ``$earliest_us`` to
    ``$latest_us``. The engine binds the pattern as a literal, so it is compiled once a query.
    """
    return _CLASSIFY_SQL.replace("{quick}", quick_match(log_format))


#: A run of chunks as the parser streams them: each line (its end kept) and its number.
LINE_CHUNK_SCHEMA = pa.schema([("n", pa.int64()), ("line", pa.large_string())])


#: The lines of one call, classified (``ingest.log_lines``): the reason a line is skipped, or
#: the request's spool row (an id, times in µs, the address as written, the user decoded and cut
#: as :func:`~pullstats.ingest.records.user_name` keeps it: "" for ``-``).
LOG_LINES_SCHEMA = pa.schema(
    [
        ("n", pa.int64()),
        ("reason", pa.string()),
        ("id", pa.string()),
        ("ts", pa.int64()),
        *((name, pa.string()) for name in ("method", "name", "tag", "digest", "ip", "ua", "src")),
        ("recv", pa.int64()),
        ("user", pa.string()),
        ("line", pa.large_string()),
    ]
)

#: Request texts (ids ending in ``-1``) and how often earlier calls held each.
SEEN_SCHEMA = pa.schema([("id", pa.string()), ("k", pa.int64())])
#: Texts to number in this call and the occurrences before it.
REPEATS_SCHEMA = pa.schema([("id", pa.string()), ("carried", pa.int64())])
#: The ids of the last call's requests, as classified.
REQUEST_IDS_SCHEMA = pa.schema([("id", pa.string())])
