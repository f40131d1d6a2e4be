"""Stage 0's steps (:mod:`pullstats.steps`): access-log lines → requests, Docker Hub CSV rows →
actions and summaries.

Access logs (:class:`~pullstats.ingest.access_logs.LogParser`): ``ingest.log_lines`` classifies
every line of a run of chunks (one variant per log format; the line pattern, the window and
the import's time are parameters); the other ``ingest.log_*`` steps read its result to count
the reasons, list the first errors, find the hours and number repeated lines.

Docker Hub CSV (:mod:`pullstats.importers.dockerhub_csv`): ``ingest.dockerhub_raw``,
``ingest.dockerhub_summary`` and ``ingest.dockerhub_core`` (Docker's DVP Core reports) turn a
file's rows (every column text, under its canonical name) into ``parsed`` rows with their
problem; the ``ingest.dockerhub_*`` steps after them count the problems and select what is
written, one day or one period at a time.
"""

from __future__ import annotations

from pullstats.ingest.access_log_formats import (
    LINE_CHUNK_SCHEMA,
    LOG_FORMATS,
    LOG_LINES_SCHEMA,
    REPEATS_SCHEMA,
    REQUEST_IDS_SCHEMA,
    SEEN_SCHEMA,
    classify_sql,
)
from pullstats.ingest.dockerhub_core_sql import CORE_KINDS, CORE_ROWS, PARSED_CORE, core_sql
from pullstats.ingest.dockerhub_sql import (
    PARSED_NAMESPACES,
    PARSED_PROBLEMS,
    PARSED_RAW,
    PARSED_SUMMARIES,
    RAW_ROWS,
    SUMMARY_KINDS,
    SUMMARY_ROWS,
    raw_sql,
    summary_sql,
)
from pullstats.steps import Input, Step, Transform, sql_file

_LINES = Input("log_lines", LOG_LINES_SCHEMA)

LOG_LINES = Step(
    "ingest.log_lines",
    (Input("log_chunk", LINE_CHUNK_SCHEMA),),
    "a line: its number and skip reason, or the spool columns of its request",
    classify_sql,
    tuple({"log_format": log_format} for log_format in LOG_FORMATS),
)

LOG_ADDRESSES = Step(
    "ingest.log_addresses",
    (_LINES,),
    "a request's address that is not canonical IPv4",
    sql_file(__package__, "log_addresses"),
)

LOG_REASONS = Step(
    "ingest.log_reasons",
    (_LINES,),
    "a skip reason (NULL: a request) and its count of lines",
    sql_file(__package__, "log_reasons"),
)

LOG_ERRORS = Step(
    "ingest.log_errors",
    (_LINES,),
    "a bad line: its number, reason and text",
    sql_file(__package__, "log_errors"),
)

LOG_HOURS = Step(
    "ingest.log_hours",
    (_LINES,),
    "a UTC hour holding requests",
    sql_file(__package__, "log_hours"),
)

LOG_REPEATS = Step(
    "ingest.log_repeats",
    (_LINES, Input("log_seen", SEEN_SCHEMA)),
    "a request text to number, and its occurrences before this call",
    sql_file(__package__, "log_repeats"),
)

LOG_REQUEST_IDS = Step(
    "ingest.log_request_ids",
    (_LINES,),
    "a request's id as classified",
    sql_file(__package__, "log_request_ids"),
)

LOG_NUMBERED = Step(
    "ingest.log_numbered",
    (_LINES, Input("log_repeats", REPEATS_SCHEMA)),
    "a repeated request's line number and its numbered id",
    sql_file(__package__, "log_numbered"),
)

LOG_SEEN = Step(
    "ingest.log_seen",
    (Input("log_previous", REQUEST_IDS_SCHEMA), Input("log_repeats", REPEATS_SCHEMA)),
    "a request text of the last call and how often it has been seen",
    sql_file(__package__, "log_seen"),
)

DOCKERHUB_RAW = Step(
    "ingest.dockerhub_raw",
    (Input("csv_rows", RAW_ROWS),),
    "a raw file row: its number, problem and detail, and its action's columns",
    raw_sql,
)

DOCKERHUB_SUMMARY = Step(
    "ingest.dockerhub_summary",
    (Input("csv_rows", SUMMARY_ROWS),),
    "a summary file row: its number, problem and detail, period, level, key and counts",
    summary_sql,
    tuple(
        {"kind": kind, "period_in_file": in_file}
        for kind in SUMMARY_KINDS
        for in_file in (True, False)
    ),
)

DOCKERHUB_CORE = Step(
    "ingest.dockerhub_core",
    (Input("csv_rows", CORE_ROWS),),
    "a DVP Core Summary or Trends report row: its number, problem and detail, period, level, "
    "key, DVP counts and what a Trends row adds",
    core_sql,
    tuple({"kind": kind} for kind in CORE_KINDS),
)

DOCKERHUB_PROBLEMS = Step(
    "ingest.dockerhub_problems",
    (Input("parsed", PARSED_PROBLEMS),),
    "a problem and its count of rows",
    sql_file(__package__, "dockerhub_problems"),
)

DOCKERHUB_PROBLEM_ROWS = Step(
    "ingest.dockerhub_problem_rows",
    (Input("parsed", PARSED_PROBLEMS),),
    "one of the first rows with a problem: its number, problem and detail",
    sql_file(__package__, "dockerhub_problem_rows"),
)

DOCKERHUB_NAMESPACES = Step(
    "ingest.dockerhub_namespaces",
    (Input("parsed", PARSED_NAMESPACES),),
    "a namespace with importable rows in the file",
    sql_file(__package__, "dockerhub_namespaces"),
)

DOCKERHUB_DAYS = Step(
    "ingest.dockerhub_days",
    (Input("parsed", PARSED_RAW),),
    "a day with imported actions, and their count",
    sql_file(__package__, "dockerhub_days"),
)

DOCKERHUB_DAY_ACTIONS = Step(
    "ingest.dockerhub_day_actions",
    (Input("parsed", PARSED_RAW),),
    "an imported action of one day, in the lake's columns",
    sql_file(__package__, "dockerhub_day_actions"),
)

DOCKERHUB_PERIODS = Step(
    "ingest.dockerhub_periods",
    (Input("parsed", PARSED_SUMMARIES),),
    "a period with imported summary rows, and their count",
    sql_file(__package__, "dockerhub_periods"),
)

DOCKERHUB_PERIOD_SUMMARIES = Step(
    "ingest.dockerhub_period_summaries",
    (Input("parsed", PARSED_SUMMARIES),),
    "an imported summary row of one period, in the lake's columns",
    sql_file(__package__, "dockerhub_period_summaries"),
)

DOCKERHUB_CORE_SUMMARIES = Step(
    "ingest.dockerhub_core_summaries",
    (Input("parsed", PARSED_CORE),),
    "a DVP Core report's summary row of one period at repository or reference level, in the "
    "lake's summary columns",
    sql_file(__package__, "dockerhub_core_summaries"),
)

DOCKERHUB_PERIOD_TRENDS = Step(
    "ingest.dockerhub_period_trends",
    (Input("parsed", PARSED_CORE),),
    "a DVP Core Trends report row of one period, in the lake's trends columns",
    sql_file(__package__, "dockerhub_period_trends"),
)

STEPS: tuple[Step | Transform, ...] = (
    LOG_LINES,
    LOG_ADDRESSES,
    LOG_REASONS,
    LOG_ERRORS,
    LOG_HOURS,
    LOG_REPEATS,
    LOG_REQUEST_IDS,
    LOG_NUMBERED,
    LOG_SEEN,
    DOCKERHUB_RAW,
    DOCKERHUB_SUMMARY,
    DOCKERHUB_CORE,
    DOCKERHUB_PROBLEMS,
    DOCKERHUB_PROBLEM_ROWS,
    DOCKERHUB_NAMESPACES,
    DOCKERHUB_DAYS,
    DOCKERHUB_DAY_ACTIONS,
    DOCKERHUB_PERIODS,
    DOCKERHUB_PERIOD_SUMMARIES,
    DOCKERHUB_CORE_SUMMARIES,
    DOCKERHUB_PERIOD_TRENDS,
)
