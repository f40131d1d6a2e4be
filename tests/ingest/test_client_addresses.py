"""One client is one unique IP however its address was spelt, through both ingest paths.

Seven spellings of three clients arrive by notification and again in an access log:
``2001:db8:e::1`` (written three ways), ``198.51.100.7`` (plain, IPv4-mapped IPv6 in two
spellings, and for the notification path the mapped address in hex) and ``203.0.113.9``.
Worked by hand: each repository has 7 pulls by 3 unique IPs, and the namespace, which sees the
same three clients through both sources, 14 pulls by 3 unique IPs.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from pullstats.db.models import PullRollup
from pullstats.importers.log_import import import_logs
from pullstats.ingest.notifications import normal_address, parse_envelope
from pullstats.periods import Period
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import now_micros
from tests.conftest import examples, write_spool
from tests.envelopes import ENVELOPE_TYPE, pull_event

WEEK = Period.week(2026, 41)  # 2026-10-05 .. 2026-10-11


@pytest.mark.parametrize(
    ("spelling", "normal"),
    [
        ("2001:0db8:000e::1", "2001:db8:e::1"),
        ("2001:DB8:E:0:0:0:0:1", "2001:db8:e::1"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("::FFFF:c633:6407", "198.51.100.7"),
        ("198.51.100.7", "198.51.100.7"),
        ("::1", "::1"),
        ("::198.51.100.7", "::c633:6407"),  # IPv4-compatible, not mapped: another address
        ("010.1.1.1", None),  # leading zeros: ambiguous (octal?), refused by ipaddress
        ("256.1.1.1", None),
        ("1:2:3:4:5:6:7:8:9", None),
    ],
)
def test_normal_address(spelling: str, normal: str | None) -> None:
    assert normal_address(spelling) == normal


NOTIFIED = [
    "[2001:0db8:000e::1]:443",
    "[2001:db8:e::1]:5000",
    "2001:DB8:E::1",
    "[::ffff:198.51.100.7]:1234",
    "198.51.100.7:80",
    "::ffff:c633:6407",
    "203.0.113.9",
]
LOGGED = [
    "2001:0db8:000e::1",
    "2001:db8:e::1",
    "2001:DB8:E::1",
    "::ffff:198.51.100.7",
    "198.51.100.7",
    "::FFFF:198.51.100.7",
    "203.0.113.9",
]


def unique_ips(runtime: Runtime, level: str, repository: str) -> tuple[int, int]:
    with runtime.sessions() as session:
        row = session.scalars(
            select(PullRollup).where(
                PullRollup.period_kind == "week",
                PullRollup.period_start == WEEK.start,
                PullRollup.level == level,
                PullRollup.namespace == "acme",
                PullRollup.repository == repository,
            )
        ).one()
        return row.pull_by_tag, row.unique_ip_count


def test_every_spelling_of_an_address_is_one_unique_ip_through_both_paths(
    runtime: Runtime, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    log.write_text(
        "".join(
            f'{addr} - - [05/Oct/2026:12:{i:02d}:00 +0000] "GET /v2/acme/logged/manifests/1.0 '
            f'HTTP/1.1" 200 1 "-" "docker/27.3.1"\n'
            for i, addr in enumerate(LOGGED)
        )
    )
    imported = import_logs(runtime, [str(log)])
    assert imported.sources[0].used == 7

    start = datetime(2026, 10, 5, 14, 0, tzinfo=UTC)
    events = [
        pull_event(start + timedelta(seconds=10 * i), "acme/notified", tag="1.0", addr=addr)
        for i, addr in enumerate(NOTIFIED)
    ]
    parsed = parse_envelope(json.dumps({"events": events}).encode(), ENVELOPE_TYPE, now_micros())
    assert parsed.rejected == []
    assert [r.ip for r in parsed.records] == ["2001:db8:e::1"] * 3 + ["198.51.100.7"] * 3 + [
        "203.0.113.9"
    ]
    write_spool(runtime, *parsed.records)
    process(runtime)

    assert unique_ips(runtime, "repository", "logged") == (7, 3)
    assert unique_ips(runtime, "repository", "notified") == (7, 3)
    assert unique_ips(runtime, "namespace", "") == (14, 3)


def test_an_access_log_address_python_cannot_read_is_invalid_address(
    runtime: Runtime, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    line = (
        '{} - - [05/Oct/2026:12:00:00 +0000] "GET /v2/acme/api/manifests/1.0 HTTP/1.1" 200 1 '
        '"-" "docker/27.3.1"\n'
    )
    log.write_text(
        "".join(line.format(a) for a in ["010.1.1.1", "1:2:3:4:5:6:7:8:9", "2001:db8::1"])
    )
    imported = import_logs(runtime, [str(log)])
    [source] = imported.sources
    assert (source.used, dict(source.skipped)) == (1, {"invalid_address": 2})
    assert [(line, reason) for line, reason, _ in source.errors] == [
        (1, "invalid_address"),
        (2, "invalid_address"),
    ]


def _reference(host: str) -> str | None:
    """The rule as ipaddress alone states it: normal form, IPv4-mapped as IPv4, an IPv6
    address without its zone (the server's interface)."""
    if ":" in host:
        host = host.partition("%")[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return str(mapped or address)


@st.composite
def ipv6_spellings(draw: st.DrawFn) -> str:
    """An IPv6 address written any way the grammar allows: case, leading zeros, any one run of
    zero groups compressed, an IPv4 tail."""
    address = draw(st.ip_addresses(v=6))
    assert isinstance(address, ipaddress.IPv6Address)
    groups = [
        group.lstrip("0") or "0" if draw(st.booleans()) else group
        for group in address.exploded.split(":")
    ]
    tail: list[str] = []
    if draw(st.booleans()):
        tail = [str(ipaddress.IPv4Address(address.packed[12:]))]
        groups = groups[:6]
    zeros = [i for i, group in enumerate(groups) if int(group, 16) == 0]
    if zeros and draw(st.booleans()):
        start = draw(st.sampled_from(zeros))
        end = start
        while end + 1 < len(groups) and int(groups[end + 1], 16) == 0 and draw(st.booleans()):
            end += 1
        text = ":".join(groups[:start]) + "::" + ":".join(groups[end + 1 :] + tail)
    else:
        text = ":".join(groups + tail)
    return text.upper() if draw(st.booleans()) else text


@pytest.mark.slow
@settings(max_examples=examples(500), deadline=None)
@given(ipv6_spellings() | st.text(alphabet="0123456789abcdefABCDEF:.%", max_size=45))
@example("::ffff:0:1.2.3.4")
@example("64:ff9b::1.2.3.4")
@example("fe80::1%eth0")
def test_normal_address_is_ipaddress_normal_form(spelling: str) -> None:
    assert normal_address(spelling) == _reference(spelling)
