"""Properties of the notification parser on generated events: any JSON value, and events that
are nearly valid, are recorded, ignored or rejected as unparseable, never anything else; and
the timestamp's per-minute fast path agrees with datetime."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pullstats.ingest.errors import UnparseableRequest
from pullstats.ingest.notifications import (
    DEFAULT_MAX_SKEW,
    IGNORE_REASONS,
    parse_event,
    parse_timestamp,
)
from pullstats.ingest.record_rules import record_problem_params, record_problem_sql
from pullstats.ingest.records import SPOOL_LINE_SCHEMA, PullRequestRecord, spool_lines
from pullstats.ingest.time_window import TimeWindow
from pullstats.steps import bind_params
from tests.conftest import examples
from tests.duckdb_cursor import duckdb_cursor
from tests.ingest.notification_events import (
    DIGEST,
    LAYER,
    MANIFEST_V2,
    OCI_INDEX,
    RECEIVED_US,
    epoch_us,
    parse,
)

# --- properties -----------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def check_outcome(event: Any) -> None:
    try:
        outcome = parse_event(event, RECEIVED_US)
    except UnparseableRequest:
        return
    assert isinstance(outcome, PullRequestRecord) or outcome in IGNORE_REASONS


@given(event=json_values)
def test_parse_event_on_any_json_value_returns_or_raises_unparseable(event: Any) -> None:
    check_outcome(event)


@st.composite
def _mostly(draw: st.DrawFn, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
    """Seven times in eight a value from ``good``, else one from ``bad``."""
    if draw(st.integers(0, 7)) == 0:
        return draw(bad)
    return draw(good)


def _member(good: list[Any], bad: list[Any]) -> st.SearchStrategy[Any]:
    """A member value: mostly one of ``good``, sometimes one of ``bad`` or any JSON value."""
    return _mostly(st.sampled_from(good), st.sampled_from(bad) | json_values)


@st.composite
def _shaped(draw: st.DrawFn, members: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """An object with these members, sometimes one of them left out."""
    value = {key: draw(strategy) for key, strategy in members.items()}
    if draw(st.integers(0, 7)) == 0:
        del value[draw(st.sampled_from(sorted(members)))]
    return value


def timestamp_texts(years: st.SearchStrategy[int]) -> st.SearchStrategy[str]:
    """RFC 3339 text, mostly valid; a field is sometimes out of range (month 13, hour 24, …)."""
    return st.builds(
        lambda y, mo, d, h, mi, s, frac, zone: (
            f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{zone}"
        ),
        years,
        _mostly(st.integers(1, 12), st.sampled_from([0, 13])),
        _mostly(st.integers(1, 28), st.sampled_from([0, 29, 30, 31, 32])),
        _mostly(st.integers(0, 23), st.just(24)),
        _mostly(st.integers(0, 59), st.just(60)),
        _mostly(st.integers(0, 59), st.just(60)),
        st.sampled_from(["", ".5", ".123456789"]),
        st.sampled_from(
            ["Z", "+00:00", "+02:00", "-02:00", "+14:00", "-12:00", "+23:59", "-23:59"]
        ),
    )


_targets = _shaped(
    {
        "mediaType": _member([MANIFEST_V2, OCI_INDEX], ["application/octet-stream"]),
        "repository": _member(["acme/app", "nginx", "a/b/c"], ["Acme/app", "a//b", ""]),
        "tag": _member(["1.0", "latest", "v2.1-rc.1"], ["-x", "", "a" * 129]),
        "digest": _member([DIGEST, LAYER], ["sha256", "md5:", ""]),
        "url": _member([f"https://r/v2/a/manifests/{DIGEST}", ""], ["https://r/v2/a/blobs/x"]),
        "size": json_values,
    }
)
_requests = _shaped(
    {
        "method": _member(["GET", "HEAD", "head"], ["PUT", "POST", ""]),
        "addr": _member(["1.2.3.4:5", "[::1]:5000", "::1", "10.0.0.1"], ["[::1", "host:1"]),
        "useragent": _mostly(st.text(max_size=30), json_values),
    }
)


def nearly_valid_events(years: st.SearchStrategy[int]) -> st.SearchStrategy[dict[str, Any]]:
    """Events shaped like distribution's, each member sometimes missing, wrong or arbitrary."""
    return _shaped(
        {
            "id": _mostly(st.text(min_size=1, max_size=8), json_values),
            "timestamp": _mostly(timestamp_texts(years), st.text(max_size=30) | json_values),
            "action": _member(["pull", "pull", "pull", "push"], ["delete", "mount", "tag"]),
            "target": _mostly(_targets, json_values),
            "request": _mostly(_requests, json_values),
        }
    )


@pytest.mark.slow
@settings(max_examples=examples(300))
@given(event=nearly_valid_events(st.integers(0, 9999)))
def test_parse_event_on_nearly_valid_events_returns_or_raises_unparseable(
    event: dict[str, Any],
) -> None:
    check_outcome(event)


# Years 1000-9000 keep clear of the datetime range edges, covered by the tests above.
@given(events=st.lists(nearly_valid_events(st.integers(1000, 9000)) | json_values, max_size=6))
def test_every_event_is_recorded_ignored_or_rejected(events: list[Any]) -> None:
    result = parse(*events)
    assert len(result.records) + sum(result.ignored.values()) + len(result.rejected) == len(events)
    assert [index for index, _ in result.rejected] == sorted({i for i, _ in result.rejected})


# --- what the parser accepts, the record rules keep ---------------------------------------

#: events at the edges of the record rules: scoped and odd addresses, long ids, lone surrogates
_edge_events = st.builds(
    lambda event_id, addr, years: {
        "id": event_id,
        "timestamp": f"{years}-10-05T12:00:00Z",
        "action": "pull",
        "target": {"mediaType": MANIFEST_V2, "repository": "acme/app", "tag": "1.0"},
        "request": {"method": "GET", "addr": addr, "useragent": "docker/27"},
    },
    st.sampled_from(["e1", "i" * 512, "i" * 513, "x" * 20_000]),
    st.sampled_from(
        [
            "[fe80::1%eth0]:5000",
            "fe80::1%25eth0",
            "[fe80::1%\ud800]:1",
            "[fe80::\ud800]:1",
            "[::ffff:192.0.2.1]:80",
            "[2001:DB8::1]:5",
            "[::]:1",
            "[::1.2.3.4]:1",
            "fe80::1%",
        ]
    ),
    st.sampled_from([2026, 2027]),
)


@pytest.mark.slow
@settings(max_examples=examples(200), deadline=None)
@given(events=st.lists(nearly_valid_events(st.integers(1990, 2030)) | _edge_events, max_size=6))
def test_every_event_the_parser_records_passes_the_record_rules(events: list[Any]) -> None:
    # an event answered as accepted must be counted: compaction sets aside, as invalid_record,
    # whatever breaks these rules, so the parser may record nothing they refuse
    records = parse(*events).records
    spool = spool_lines(records)  # a line each, in UTF-8: no lone surrogate gets this far
    assert spool.count(b"\n") == len(records)
    table = pa.Table.from_pylist(
        [_row(record) for record in records],
        schema=SPOOL_LINE_SCHEMA,
    )
    window = TimeWindow.at(RECEIVED_US, DEFAULT_MAX_SKEW)
    sql = bind_params(f"SELECT {record_problem_sql()} FROM batch", record_problem_params(window))
    with duckdb_cursor() as connection:
        connection.register("batch", table)
        problems = [problem for (problem,) in connection.execute(sql).fetchall()]
    assert problems == [None] * len(records)


def _row(record: PullRequestRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in SPOOL_LINE_SCHEMA.names}


# --- timestamps: the per-minute fast path agrees with datetime ------------------------------

_WHOLE_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})", re.ASCII
)


def reference_timestamp(text: str) -> int | None:
    """The whole text through datetime (no per-minute reuse); None when it is invalid."""
    match = _WHOLE_TIMESTAMP.fullmatch(text)
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    if abs(int(zone[1:3])) > 14:  # UTC offsets run from -12:00 to +14:00
        return None
    try:
        instant = datetime.fromisoformat(f"{day}T{clock}{zone}").astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return epoch_us(instant) + int((fraction or "0")[:6].ljust(6, "0"))


def check_timestamp(text: str) -> None:
    expected = reference_timestamp(text)
    if expected is None:
        with pytest.raises(UnparseableRequest, match="invalid timestamp"):
            parse_timestamp(text)
    else:
        assert parse_timestamp(text) == expected


@settings(max_examples=examples(500))
@given(text=timestamp_texts(st.integers(1, 9999)))
def test_timestamp_agrees_with_datetime(text: str) -> None:
    check_timestamp(text)


def test_every_second_of_a_cached_minute() -> None:
    for zone in ("Z", "+05:30", "-08:00"):
        for second in range(62):
            check_timestamp(f"2026-10-05T23:59:{second:02d}.25{zone}")
            check_timestamp(f"2026-10-05t23:59:{second:02d}{zone.lower()}")


def test_an_invalid_minute_stays_invalid_when_asked_again() -> None:
    for _ in range(3):
        for text in ("2026-02-30T10:00:00Z", "9999-12-31T23:59:30-02:00", "2026-10-05T24:00:00Z"):
            with pytest.raises(UnparseableRequest, match="invalid timestamp"):
                parse_timestamp(text)


def test_timestamps_stay_right_past_the_minute_cache_size() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(10_000):  # more distinct minutes than the cache holds
        instant = start + timedelta(minutes=n, seconds=n % 60)
        text = instant.astimezone(timezone(timedelta(hours=n % 3))).isoformat()
        assert parse_timestamp(text) == epoch_us(instant), text
