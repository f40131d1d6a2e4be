"""Stage 1's steps (:mod:`pullstats.steps`): spool records → the lake's ``requests`` table.

A batch of records (``batch``, :data:`~pullstats.ingest.records.SPOOL_SCHEMA`) goes through:

- ``lake.unusable`` / ``lake.usable``: the records that break a rule every ingest path enforces
  (:mod:`pullstats.ingest.record_rules`), with the reason, which are set aside; and the rest;
- ``lake.repeats``, ``lake.first_arrivals``: one record per event id, its first arrival;
- ``lake.batch_days``: the days it touches; ``lake.request_ids`` the ids the lake holds on
  them, and ``lake.new_requests`` the records the lake does not hold yet;
- ``lake.new_addresses`` → ``lake.hash_ips`` and ``lake.enrich_addresses``;
  ``lake.new_user_agents`` → ``lake.enrich_user_agents``; ``lake.new_users`` →
  ``lake.hash_users``: the run's lookup tables (each distinct address, user agent or user
  looked up once per run);
- ``lake.requests``: one day's rows of the lake, written as one Parquet file.

``lake.holds_notifications`` and ``lake.notification_hours`` read the lake for the log
importer's overlap guard. The engine code is ``lake/request_writer.py`` (and
``importers/log_import.py``): it runs these on one connection, keeps the run's tables there,
and writes the files (``COPY … TO``).
"""

from __future__ import annotations

import pyarrow as pa

from pullstats.enrich import ADDRESS_COLUMNS, USER_AGENT_COLUMNS
from pullstats.ingest.record_rules import record_problem_sql
from pullstats.ingest.records import SPOOL_SCHEMA
from pullstats.lake_schema import REQUESTS
from pullstats.steps import Input, Step, Transform, sql_file

BATCH = Input("batch", SPOOL_SCHEMA)
#: The lake's request ids of the batch's days and the days either side of them.
IDS = Input("ids", pa.schema([("id", pa.string())]))
#: The run's addresses: each with its keyed hash and enrichment.
ADDRESSES = Input(
    "addresses",
    pa.schema(
        [("ip", pa.string()), ("ip_hash", pa.binary())]
        + [(name, pa.string()) for name in ADDRESS_COLUMNS]
    ),
)
#: The run's user agents, each with its tool and version.
AGENTS = Input(
    "agents",
    pa.schema([("ua", pa.string())] + [(name, pa.string()) for name in USER_AGENT_COLUMNS]),
)
#: The run's authenticated users, each with its keyed hash.
USERS = Input("users", pa.schema([("user", pa.string()), ("user_hash", pa.binary())]))
REQUESTS_INPUT = Input("requests", REQUESTS.schema)


def _unusable() -> str:
    return (
        "-- lake.unusable: the batch's records that break a rule (ingest/record_rules.py), each\n"
        "-- with the reason it is set aside (problem)\n"
        f"SELECT * FROM (SELECT *, {record_problem_sql()} AS problem FROM batch) AS checked\n"
        "WHERE problem IS NOT NULL"
    )


def _usable() -> str:
    return (
        "-- lake.usable: the batch's records that break no rule (ingest/record_rules.py)\n"
        f"SELECT * FROM batch WHERE ({record_problem_sql()}) IS NULL"
    )


UNUSABLE = Step(
    "lake.unusable",
    (BATCH,),
    "a batch record that breaks a rule, with its reason (problem); $earliest_us, $latest_us: "
    "the accepted window",
    _unusable,
)
USABLE = Step(
    "lake.usable",
    (BATCH,),
    "a batch record that breaks no rule; $earliest_us, $latest_us: the accepted window",
    _usable,
)
REPEATS = Step(
    "lake.repeats",
    (BATCH,),
    "one row if an id may repeat in the batch",
    sql_file(__package__, "repeats"),
)
FIRST_ARRIVALS = Step(
    "lake.first_arrivals",
    (BATCH,),
    "a batch record, the first arrival of its id",
    sql_file(__package__, "first_arrivals"),
)
BATCH_DAYS = Step(
    "lake.batch_days",
    (BATCH,),
    "a day of the batch (days since the epoch) and its earliest request time",
    sql_file(__package__, "batch_days"),
)
REQUEST_IDS = Step(
    "lake.request_ids",
    (REQUESTS_INPUT,),
    "the id of a request in the lake",
    sql_file(__package__, "request_ids"),
)
NEW_REQUESTS = Step(
    "lake.new_requests",
    (BATCH, IDS),
    "a batch record whose id the lake does not hold",
    sql_file(__package__, "new_requests"),
)
NEW_ADDRESSES = Step(
    "lake.new_addresses",
    (BATCH, ADDRESSES),
    "a distinct address of the batch not looked up yet in the run",
    sql_file(__package__, "new_addresses"),
)
NEW_USER_AGENTS = Step(
    "lake.new_user_agents",
    (BATCH, AGENTS),
    "a distinct user agent of the batch not parsed yet in the run",
    sql_file(__package__, "new_user_agents"),
)
NEW_USERS = Step(
    "lake.new_users",
    (BATCH, USERS),
    "a distinct authenticated user of the batch not hashed yet in the run",
    sql_file(__package__, "new_users"),
)
HASH_IPS = Transform(
    "lake.hash_ips",
    (Input("new_addresses", pa.schema([("ip", pa.string())])),),
    "ip_hash: each address's keyed hash (HMAC-SHA256, 16 bytes), under the installation's key",
    "pullstats.lake.ip_hash:hash_ips",
)
HASH_USERS = Transform(
    "lake.hash_users",
    (Input("new_users", pa.schema([("user", pa.string())])),),
    "user_hash: each user name's keyed hash (HMAC-SHA256, 16 bytes), under a key derived from "
    "the installation's address-hash key",
    "pullstats.lake.user_hash:hash_users",
)
ENRICH_ADDRESSES = Transform(
    "lake.enrich_addresses",
    (Input("new_addresses", pa.schema([("ip", pa.string())])),),
    "each address's country, host, type and domain (pullstats.enrich)",
    "pullstats.enrich:enrich_addresses",
)
ENRICH_USER_AGENTS = Transform(
    "lake.enrich_user_agents",
    (Input("new_user_agents", pa.schema([("ua", pa.string())])),),
    "each user agent's tool and version (pullstats.enrich.user_agent)",
    "pullstats.enrich:enrich_user_agents",
)
LAKE_REQUESTS = Step(
    "lake.requests",
    (BATCH, ADDRESSES, AGENTS, USERS),
    "a row of the lake's requests table (lake_schema.REQUESTS) for a batch request on the day "
    "[$day_start, $day_end)",
    sql_file(__package__, "requests"),
)
HOLDS_NOTIFICATIONS = Step(
    "lake.holds_notifications",
    (REQUESTS_INPUT,),
    "one row if the requests hold any from a registry notification",
    sql_file(__package__, "holds_notifications"),
)
NOTIFICATION_HOURS = Step(
    "lake.notification_hours",
    (REQUESTS_INPUT,),
    "an hour (a timestamp truncated to the hour) holding a request from a notification",
    sql_file(__package__, "notification_hours"),
)

STEPS: tuple[Step | Transform, ...] = (
    UNUSABLE,
    USABLE,
    REPEATS,
    FIRST_ARRIVALS,
    BATCH_DAYS,
    REQUEST_IDS,
    NEW_REQUESTS,
    NEW_ADDRESSES,
    NEW_USER_AGENTS,
    NEW_USERS,
    HASH_IPS,
    HASH_USERS,
    ENRICH_ADDRESSES,
    ENRICH_USER_AGENTS,
    LAKE_REQUESTS,
    HOLDS_NOTIFICATIONS,
    NOTIFICATION_HOURS,
)
