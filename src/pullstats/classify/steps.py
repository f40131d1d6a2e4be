"""Stage 2's steps (:mod:`pullstats.steps`): the requests that decide a run of days' actions,
in partition order; grouping them into actions; the days' actions imported from Docker Hub.

:mod:`pullstats.classify.actions` runs them (the reasons for the before/after stretches are
in ``_read_sorted_requests``'s docstring).
"""

from __future__ import annotations

import pyarrow as pa

from pullstats.lake_schema import IMPORTED_ACTIONS, REQUESTS
from pullstats.steps import Input, Step, Transform, sql_file

#: The columns of a request that classification reads, in the order it reads them.
REQUEST_COLUMNS = (
    "ts", "namespace", "repository", "tag", "digest", "method", "ip_hash", "user_agent",
    "country", "host", "type", "domain", "user_agent_tool", "user_agent_version", "received",
    "id", "user_hash",
)  # fmt: skip

_REQUESTS = pa.schema([REQUESTS.schema.field(name) for name in REQUEST_COLUMNS])
#: What ``classify.sorted_requests`` yields: the columns above and the partition's hash.
SORTED_REQUESTS = _REQUESTS.append(pa.field("partition_hash", pa.uint64()))

_SORTED_REQUESTS_SQL = """\
-- classify.sorted_requests: the requests that decide the actions opening on a run of days,
-- partition by partition (namespace, repository, ip_hash), each in arrival order.
-- `requests`: the days' own; `requests_before`: the day before, of which the last stretch
-- (from $stretch) is kept, and the rest of the day only for the partitions whose first
-- request in the stretch comes by $carry (a chain of requests may reach into it);
-- `requests_after`: the day after, up to $reach (twice the furthest an action can span: the
-- actions opening in its first span, which the run hands over, are whole).
-- Partitions come by {order}.
SELECT *, hash(namespace, repository, ip_hash) AS partition_hash FROM (
    SELECT {columns} FROM requests
    UNION ALL
    SELECT {columns} FROM requests_before WHERE ts >= $stretch
    UNION ALL
    -- partitions match as GROUP BY makes them: a NULL key is one value
    SELECT {columns} FROM requests_before AS r
    SEMI JOIN (
        SELECT namespace, repository, ip_hash FROM requests_before
        WHERE ts >= $stretch
        GROUP BY namespace, repository, ip_hash
        HAVING min(ts) <= $carry
    ) AS carried
    ON r.namespace IS NOT DISTINCT FROM carried.namespace
        AND r.repository IS NOT DISTINCT FROM carried.repository
        AND r.ip_hash IS NOT DISTINCT FROM carried.ip_hash
    WHERE r.ts < $stretch
    UNION ALL
    SELECT {columns} FROM requests_after WHERE ts <= $reach
)
ORDER BY {sort_key}, ts, received, id
"""


def sorted_requests_sql(*, hashed: bool = True) -> str:
    """``classify.sorted_requests``; ``hashed=False`` orders partitions by the key itself (for
    when two keys share a hash, which would interleave their partitions)."""
    return _SORTED_REQUESTS_SQL.format(
        columns=", ".join(REQUEST_COLUMNS),
        order="a hash of their key (faster to sort than the three strings)"
        if hashed
        else "their key",
        sort_key="partition_hash" if hashed else "namespace, repository, ip_hash",
    )


SORTED_REQUESTS_STEP = Step(
    "classify.sorted_requests",
    (
        Input("requests", REQUESTS.schema),
        Input("requests_before", REQUESTS.schema),
        Input("requests_after", REQUESTS.schema),
    ),
    "a request (REQUEST_COLUMNS) and its partition_hash, by partition, then ts, received, id",
    sorted_requests_sql,
    variants=({"hashed": True}, {"hashed": False}),
)

ACTIONS_STEP = Transform(
    "classify.actions",
    (Input("requests", SORTED_REQUESTS),),
    "an action (ACTIONS' columns), in file order: by time, then partition key and arrival",
    "pullstats.classify.actions:actions_of",
    partition_by=("namespace", "repository", "ip_hash"),
    order_by=("ts", "received", "id"),
)

IMPORTED_ACTIONS_STEP = Step(
    "classify.imported_actions",
    (Input("imported", IMPORTED_ACTIONS.schema, filename=True),),
    "an action (ACTIONS' columns) of a day, as many times as the file holding it most has it",
    sql_file(__package__, "imported_actions"),
)

STEPS: tuple[Step | Transform, ...] = (SORTED_REQUESTS_STEP, ACTIONS_STEP, IMPORTED_ACTIONS_STEP)
