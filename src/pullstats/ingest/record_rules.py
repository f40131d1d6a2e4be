"""What a spool record must hold to be classified: the rules every ingest path enforces, as SQL.

Each ingest path (notifications, access logs, Docker Hub CSV) checks its input before it
writes a record; compaction checks every record again with :func:`record_problem_sql` (in the
steps ``lake.unusable`` and ``lake.usable``, the window's bounds bound as parameters), because
a spool may have been written by an older version, by hand, or damaged, and one record the
later stages cannot handle (a NULL name stops the rollups) must not stop a run. A record that
breaks a rule is set aside under :data:`INVALID_RECORD` instead of reaching the lake.

The one exception is ``ingest logs``: the access-log parser's requests go to the lake in the
same run, never through a spool, and the parser enforces these rules itself, so they are not
checked again (``RequestWriter.write``'s ``checked``; a property test in
``tests/ingest/test_access_log_properties.py`` holds every request the parser stages to these
rules).
"""

from __future__ import annotations

from pullstats.drop_reasons import DropReason
from pullstats.ingest.notifications import CANONICAL_IPV4, DIGEST, MAX_ID_LENGTH, TAG
from pullstats.ingest.time_window import OUT_OF_WINDOW, TimeWindow
from pullstats.names import repository_name_sql

#: Why a record that breaks a rule below is set aside.
INVALID_RECORD = DropReason.INVALID_RECORD

#: An address as the ingest paths write it: IPv4 in dotted quads, or IPv6 (hex groups, colons,
#: possibly an embedded IPv4). The shape only: an address the hash and the enrichment can take.
_IPV6_SHAPE = r"[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?::" + CANONICAL_IPV4.pattern + r")?"


def record_problem_sql() -> str:
    """A DuckDB expression over the spool columns: NULL for a usable record, else the reason
    it is set aside (:data:`OUT_OF_WINDOW` or :data:`INVALID_RECORD`). It takes the accepted
    window's bounds as the parameters ``$earliest_us`` and ``$latest_us``
    (:func:`record_problem_params`)."""
    invalid = " OR ".join(
        [
            f"id IS NULL OR id = '' OR length(id) > {MAX_ID_LENGTH}",
            "recv IS NULL",
            "method IS NULL OR method NOT IN ('GET', 'HEAD')",
            f"name IS NULL OR NOT {repository_name_sql('name')}",
            f"tag IS NULL OR (tag <> '' AND NOT regexp_full_match(tag, '{TAG.pattern}'))",
            "digest IS NULL OR (digest <> ''"
            f" AND NOT regexp_full_match(digest, '{DIGEST.pattern}'))",
            "(tag = '' AND digest = '')",
            f"ip IS NULL OR NOT (regexp_full_match(ip, '{CANONICAL_IPV4.pattern}')"
            f" OR (length(ip) <= 45 AND regexp_full_match(ip, '{_IPV6_SHAPE}')))",
            "ua IS NULL OR src IS NULL OR src = ''",
        ]
    )
    return (
        "CASE WHEN ts IS NULL OR ts < $earliest_us OR ts > $latest_us"
        f" THEN '{OUT_OF_WINDOW}' WHEN {invalid} THEN '{INVALID_RECORD}' END"
    )


def record_problem_params(window: TimeWindow) -> dict[str, int]:
    """The parameters of :func:`record_problem_sql` for ``window``."""
    return {"earliest_us": window.earliest_us, "latest_us": window.latest_us}
