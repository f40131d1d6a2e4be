"""Why an input is not counted: one vocabulary for every ingest path and for ``process``.

Every path that drops something counts it under one of these names: a registry notification
that is ignored or rejected (``pullstats_ingest_events_total``'s ``reason``), an access-log line
that is skipped (``pullstats ingest logs``), a Docker Hub CSV row that is skipped (``pullstats
import dockerhub-csv``), a spool record or line that ``process`` sets aside (``lake/set-aside/``,
``pullstats status``). The same thing has the same name on every path
(``timestamp_out_of_range``, ``blob_request``, ``push``); where two paths kept different names
for a similar thing (``invalid_time`` in a log line, ``bad_timestamp`` in a CSV row) both stay,
because scripts read them, and the meaning below says how they differ. Each path declares the
reasons it may give as a tuple of :class:`DropReason` (below), and
``tests/test_drop_reasons.py`` holds every path's code and docs to its tuple. Pure.
"""

from __future__ import annotations

from enum import StrEnum


class DropReason(StrEnum):
    """A reason, by its name on the wire, in the CLI's output and in metrics."""

    # valid input that is not a pull of a manifest: ignored, nothing is wrong with it
    BLANK = "blank"
    BLOB_REQUEST = "blob_request"
    NOT_MANIFEST = "not_manifest"
    PUSH = "push"
    DELETE = "delete"
    MOUNT = "mount"
    OTHER_ACTION = "other_action"
    METHOD = "method"
    NON_2XX = "non_2xx"
    # bad input: refused or skipped where it arrives
    UNTERMINATED = "unterminated"
    UNPARSEABLE = "unparseable"
    INVALID_EVENT = "invalid_event"
    MALFORMED_CSV = "malformed_csv"
    INVALID_TIME = "invalid_time"
    BAD_TIMESTAMP = "bad_timestamp"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    MISSING_NAMESPACE = "missing_namespace"
    INVALID_NAMESPACE = "invalid_namespace"
    MISSING_REPOSITORY = "missing_repository"
    INVALID_REPOSITORY = "invalid_repository"
    INVALID_NAME = "invalid_name"
    MISSING_REFERENCE = "missing_reference"
    INVALID_REFERENCE = "invalid_reference"
    INVALID_DIGEST = "invalid_digest"
    INVALID_ADDRESS = "invalid_address"
    UNKNOWN_ACTION = "unknown_action"
    BAD_PERIOD = "bad_period"
    PERIOD_OUT_OF_RANGE = "period_out_of_range"
    BAD_COUNT = "bad_count"
    UNKNOWN_LEVEL = "unknown_level"
    # set aside by `process`: what an older version, a hand edit or a damaged disk left
    INVALID_RECORD = "invalid_record"
    DAMAGED_LINE = "damaged_line"
    # set aside by `ingest registry-log`: a notified request the registry answered non-2xx
    REFUSED = "refused"


R = DropReason

#: What each reason means, whatever the path.
MEANING: dict[DropReason, str] = {
    R.BLANK: "an empty log line",
    R.BLOB_REQUEST: "a request for a blob (a layer download, upload or mount), not a manifest",
    R.NOT_MANIFEST: "a request for something else: /v2/ pings, _catalog, tags/list",
    R.PUSH: "a manifest pushed (PUT)",
    R.DELETE: "a manifest deleted (DELETE)",
    R.MOUNT: "a blob mounted from another repository (notifications)",
    R.OTHER_ACTION: "a notification of any other action",
    R.METHOD: "a manifest request with another method than GET or HEAD",
    R.NON_2XX: "a request the registry answered with a status outside 200-299",
    R.UNTERMINATED: "the last line of a log, without its newline: imported once complete",
    R.UNPARSEABLE: "a log line in none of the formats (or not the one asked for)",
    R.INVALID_EVENT: "a notification event that is malformed: a member missing or invalid",
    R.MALFORMED_CSV: "a CSV line that cannot be split into the header's columns",
    R.INVALID_TIME: "a log line whose time is not a date",
    R.BAD_TIMESTAMP: "a CSV row whose timestamp is empty or not a time",
    R.TIMESTAMP_OUT_OF_RANGE: (
        "a time before 2000-01-01 or more than PULLSTATS_MAX_CLOCK_SKEW past the clock"
    ),
    R.MISSING_NAMESPACE: "a CSV row without a namespace",
    R.INVALID_NAMESPACE: "a namespace outside the registry's name grammar, or too long",
    R.MISSING_REPOSITORY: "a CSV row without the repository its kind needs",
    R.INVALID_REPOSITORY: "namespace/repository outside the name grammar, or too long",
    R.INVALID_NAME: "a log line whose repository name the registry would refuse",
    R.MISSING_REFERENCE: "a CSV row with neither reference, tag nor digest",
    R.INVALID_REFERENCE: "a log line or CSV row whose reference is neither a tag nor a digest",
    R.INVALID_DIGEST: "a log line or CSV row whose digest is neither empty (-) nor a digest",
    R.INVALID_ADDRESS: "a log line whose client address is not IPv4 or IPv6",
    R.UNKNOWN_ACTION: "a Docker Hub raw row whose action is not one of the three kinds",
    R.BAD_PERIOD: "a summary row whose period is not a whole ISO week or calendar month",
    R.PERIOD_OUT_OF_RANGE: "a summary row whose period starts outside the accepted times",
    R.BAD_COUNT: (
        "a summary row with a count that is not a non-negative integer, or counts that do not "
        "add up to the report's total"
    ),
    R.UNKNOWN_LEVEL: "a DVP Core Summary row whose LEVEL is not repository, tag or digest",
    R.INVALID_RECORD: "a spool record that breaks a rule every ingest path enforces",
    R.DAMAGED_LINE: "a spool line that is not a record (a torn write, a damaged disk)",
    R.REFUSED: "a notified request the registry's own log shows answered outside 200-299",
}

#: Registry notifications: events ignored (valid, not pulls) and rejected (bad).
NOTIFICATION_IGNORED = (R.PUSH, R.DELETE, R.MOUNT, R.OTHER_ACTION, R.BLOB_REQUEST, R.METHOD)
NOTIFICATION_REJECTED = (R.INVALID_EVENT, R.TIMESTAMP_OUT_OF_RANGE)

#: Access-log lines: skipped as not pulls, and skipped as errors in the input (the first few
#: errors are reported with their line).
ACCESS_LOG_IGNORED = (
    R.BLANK,
    R.BLOB_REQUEST,
    R.NOT_MANIFEST,
    R.PUSH,
    R.DELETE,
    R.METHOD,
    R.NON_2XX,
)
ACCESS_LOG_ERRORS = (
    R.UNPARSEABLE,
    R.INVALID_TIME,
    R.TIMESTAMP_OUT_OF_RANGE,
    R.INVALID_ADDRESS,
    R.INVALID_NAME,
    R.INVALID_REFERENCE,
    R.INVALID_DIGEST,
    R.UNTERMINATED,
)

#: Docker Hub CSV rows: raw rows, then summary rows (``malformed_csv`` for either).
DOCKERHUB_RAW = (
    R.MALFORMED_CSV,
    R.MISSING_NAMESPACE,
    R.INVALID_NAMESPACE,
    R.BAD_TIMESTAMP,
    R.TIMESTAMP_OUT_OF_RANGE,
    R.UNKNOWN_ACTION,
    R.MISSING_REPOSITORY,
    R.INVALID_REPOSITORY,
    R.MISSING_REFERENCE,
    R.INVALID_REFERENCE,
    R.INVALID_DIGEST,
)
DOCKERHUB_SUMMARY = (
    R.MALFORMED_CSV,
    R.MISSING_NAMESPACE,
    R.INVALID_NAMESPACE,
    R.BAD_PERIOD,
    R.PERIOD_OUT_OF_RANGE,
    R.MISSING_REPOSITORY,
    R.INVALID_REPOSITORY,
    R.MISSING_REFERENCE,
    R.BAD_COUNT,
)
#: Docker's DVP Core Summary and Trends report rows.
DOCKERHUB_CORE = (
    R.MALFORMED_CSV,
    R.MISSING_NAMESPACE,
    R.INVALID_NAMESPACE,
    R.BAD_PERIOD,
    R.PERIOD_OUT_OF_RANGE,
    R.UNKNOWN_LEVEL,
    R.MISSING_REPOSITORY,
    R.INVALID_REPOSITORY,
    R.MISSING_REFERENCE,
    R.BAD_COUNT,
)

#: What ``process`` sets aside instead of classifying (``lake/set-aside/<reason>/``).
SET_ASIDE = (R.TIMESTAMP_OUT_OF_RANGE, R.INVALID_RECORD, R.DAMAGED_LINE)

#: What ``pullstats ingest registry-log`` sets aside from the lake's requests.
REGISTRY_LOG_SET_ASIDE = (R.REFUSED,)

#: Every path's reasons, by the path's name in the docs.
PATHS: dict[str, tuple[DropReason, ...]] = {
    "notifications, ignored": NOTIFICATION_IGNORED,
    "notifications, rejected": NOTIFICATION_REJECTED,
    "access logs, ignored": ACCESS_LOG_IGNORED,
    "access logs, errors": ACCESS_LOG_ERRORS,
    "Docker Hub raw rows": DOCKERHUB_RAW,
    "Docker Hub summary rows": DOCKERHUB_SUMMARY,
    "Docker Hub DVP Core report rows": DOCKERHUB_CORE,
    "process, set aside": SET_ASIDE,
    "registry logs, set aside": REGISTRY_LOG_SET_ASIDE,
}
