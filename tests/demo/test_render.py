"""Tests for ``demo.render``: generated requests as registry notifications and nginx log lines.

Both renderings are read back with independent parsers (the ingest endpoint's envelope parser;
a regular expression of the documented nginx format) and must give the requests back.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pyarrow as pa
import pytest

from pullstats.demo.catalog import DEMO_CATALOG
from pullstats.demo.render import (
    ENVELOPE_MEDIA_TYPE,
    envelope_bodies,
    manifest_info,
    nginx_lines,
    notification_events,
)
from pullstats.demo.synthetic import generate_requests
from pullstats.ingest.notifications import parse_envelope
from pullstats.ingest.records import SPOOL_SCHEMA
from pullstats.timestamps import now_micros

MANIFESTS = manifest_info(DEMO_CATALOG)

# combined + ` $msec "$upstream_http_docker_content_digest"`
NGINX = re.compile(
    r"(?P<ip>\S+) - (?P<user>\S+) \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] "
    r'"(?P<method>GET|HEAD) /v2/(?P<name>\S+)/manifests/(?P<ref>\S+) HTTP/1\.1" '
    r'(?P<status>\d{3}) (?P<bytes>\d+) "-" "(?P<ua>[^"]*)" (?P<msec>\d+\.\d{3}) "(?P<digest>[^"]*)"'
)


@pytest.fixture(scope="module")
def requests() -> pa.Table:
    return pa.concat_tables(
        generate_requests(
            DEMO_CATALOG, start=dt.date(2026, 10, 5), days=2, requests_per_day=1_500, seed=4
        )
    )


def test_envelopes_parse_back_to_the_same_requests(requests: pa.Table) -> None:
    events = notification_events(requests, MANIFESTS, np.random.default_rng(1))
    bodies = list(envelope_bodies(events, 40))
    assert len(bodies) == -(-requests.num_rows // 40)
    records = []
    for body in bodies:
        result = parse_envelope(body, ENVELOPE_MEDIA_TYPE, now_micros())
        assert not result.rejected and not result.ignored
        records += result.records
    back = pa.Table.from_pylist(
        [{name: getattr(r, name) for name in SPOOL_SCHEMA.names} for r in records],
        schema=SPOOL_SCHEMA,
    )
    assert back.drop(["src", "recv"]).equals(requests.drop(["src", "recv"]))


def test_events_have_the_distribution_shape(requests: pa.Table) -> None:
    events = [
        json.loads(e) for e in notification_events(requests, MANIFESTS, np.random.default_rng(2))
    ]
    for event in events:
        assert list(event) == ["id", "timestamp", "action", "target", "request", "actor", "source"]
        assert event["action"] == "pull"
        target, request = event["target"], event["request"]
        assert {"mediaType", "size", "digest", "length", "repository", "url"} <= set(target)
        assert set(target) - {"mediaType", "size", "digest", "length", "repository", "url"} <= {
            "tag"
        }
        assert target["size"] == target["length"] > 0
        assert target["url"].endswith("/manifests/" + target["digest"])
        assert list(request) == ["id", "addr", "host", "method", "useragent"]
        assert event["actor"] in ({}, {"name": event["actor"].get("name")})
        # Go's RFC3339Nano: up to 9 fraction digits, trailing zeros cut
        fraction = re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(\d{1,9}))?Z", event["timestamp"]
        )
        assert fraction and not (fraction.group(1) or "1").endswith("0")
        host, port = request["addr"].rsplit(":", 1)
        assert 32_768 <= int(port) < 61_000
        assert (":" in host) == host.startswith("[")
    assert any(e["request"]["addr"].startswith("[") for e in events)  # some IPv6 clients
    # the authenticated user, as Distribution names it; {} for an anonymous pull
    users = requests["user"].to_pylist()
    assert [e["actor"].get("name", "") for e in events] == users
    assert "" in users and {"name": next(u for u in users if u)} in [e["actor"] for e in events]
    media = {e["target"]["mediaType"] for e in events}
    assert media == {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
    }


def test_rendering_is_deterministic(requests: pa.Table) -> None:
    one = notification_events(requests, MANIFESTS, np.random.default_rng(9))
    two = notification_events(requests, MANIFESTS, np.random.default_rng(9))
    assert one == two
    assert nginx_lines(requests, MANIFESTS) == nginx_lines(requests, MANIFESTS)


def test_nginx_lines_parse_back_to_the_same_requests(requests: pa.Table) -> None:
    lines = nginx_lines(requests, MANIFESTS).decode().split("\n")
    assert lines[-1] == ""
    rows = requests.to_pylist()
    assert len(lines) - 1 == len(rows)
    logged: set[str] = set()
    for line, row in zip(lines, rows, strict=False):
        match = NGINX.fullmatch(line)
        assert match, line
        assert match["ip"] == row["ip"] and match["method"] == row["method"]
        assert match["user"] == (row["user"] or "-")  # $remote_user
        logged.add(match["user"])
        assert match["name"] == row["name"]
        assert match["ref"] == (row["tag"] or row["digest"])
        assert match["status"] == "200"
        assert (match["bytes"] == "0") == (row["method"] == "HEAD")
        assert match["msec"] == f"{row['ts'] // 1_000_000}.{row['ts'] // 1_000 % 1_000:03d}"
        stamp = dt.datetime.fromtimestamp(row["ts"] // 1_000_000, dt.UTC)
        assert match["time"] == stamp.strftime("%d/%b/%Y:%H:%M:%S +0000")
        assert match["digest"] == row["digest"]
        assert match["ua"].replace("\\x5C", "\\") == row["ua"]
    assert "-" in logged and len(logged) > 10


def test_nginx_escapes_as_nginx_does(requests: pa.Table) -> None:
    odd = requests.slice(0, 2)
    odd = odd.set_column(7, "ua", pa.array(['say "hi"\\', "tab\there é"]))
    odd = odd.set_column(5, "digest", pa.array(["", odd["digest"][1].as_py()]))
    odd = odd.set_column(10, "user", pa.array(['o"brien\\', "josé"]))
    first, second = nginx_lines(odd, MANIFESTS).decode().splitlines()
    assert '"say \\x22hi\\x22\\x5C"' in first and first.endswith('"-"')
    assert first.split(" ")[2] == "o\\x22brien\\x5C"
    assert second.split(" ")[2] == "jos\\xC3\\xA9"
    assert '"tab\\x09here \\xC3\\xA9"' in second


def test_actor_names_are_json_escaped(requests: pa.Table) -> None:
    odd = requests.slice(0, 3).set_column(10, "user", pa.array(['o"brien\\', "josé", ""]))
    events = [json.loads(e) for e in notification_events(odd, MANIFESTS, np.random.default_rng(3))]
    assert [e["actor"] for e in events] == [{"name": 'o"brien\\'}, {"name": "josé"}, {}]


def test_a_table_that_is_not_a_spool_table_is_refused() -> None:
    with pytest.raises(ValueError, match="not a spool table"):
        nginx_lines(pa.table({"x": [1]}), MANIFESTS)
    with pytest.raises(ValueError, match="at least one event"):
        list(envelope_bodies(["{}"], 0))
