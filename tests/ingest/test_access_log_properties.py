"""Properties of the access-log parser on generated lines: any text is parsed or counted, the
name rules are the notification parser's, cutting a line at its quotes gives what the whole
pattern gives, and every request it stages passes the record rules."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pullstats.ingest.access_log_formats import SKIP_REASONS, LogFormat
from pullstats.ingest.errors import UnparseableRequest
from pullstats.ingest.notifications import DEFAULT_MAX_SKEW, parse_repository_name
from pullstats.ingest.record_rules import record_problem_params, record_problem_sql
from pullstats.ingest.records import SPOOL_SCHEMA
from pullstats.ingest.time_window import TimeWindow
from pullstats.steps import bind_params
from tests.conftest import examples
from tests.duckdb_cursor import duckdb_cursor
from tests.ingest.access_log_parsing import (
    DOCKER_UA,
    GOOD,
    LOG_FORMAT_NAMES,
    LOGS,
    RECEIVED_US,
    D,
    P,
    assert_same,
    at,
    parse_bytes,
)


@pytest.mark.slow
@settings(max_examples=examples(150), deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",))),
        max_size=8,
    )
)
def test_any_text_is_parsed_or_counted(lines: list[str]) -> None:
    valid = (LOGS / "nginx-pullstats.log").read_text().splitlines()[0]
    data = "".join(f"{line}\n" for line in [*lines, valid]).encode()
    parsed = parse_bytes(data)
    assert parsed.lines == len(lines) + 1
    assert parsed.requests.num_rows + sum(parsed.skipped.values()) == parsed.lines
    assert set(parsed.skipped) <= set(SKIP_REASONS)
    assert parsed.requests.num_rows >= 1


@pytest.mark.slow
@settings(max_examples=examples(200), deadline=None)
@given(
    st.text(alphabet="abz09._-/A", min_size=1, max_size=40)
    | st.sampled_from(["a/b", "a__b/c", "a--b", "a-_b", "a/", "/a", "a..b", "a.b/c-d/e_f"])
)
def test_name_rules_are_the_notification_parsers(name: str) -> None:
    try:
        parse_repository_name(name)
        expected = 1
    except UnparseableRequest:
        expected = 0
    line = f'192.0.2.1 - - [05/Oct/2026:12:00:00 +0000] "GET /v2/{name}/manifests/1.0 HTTP/1.1" 200 1 "-" "x"\n'  # noqa: E501
    parsed = parse_bytes(line.encode())
    assert parsed.requests.num_rows == expected, parsed.skipped


# Pieces of a line that make the quick path (cut at quotes) and the pattern disagree if either
# is wrong: quotes and backslashes inside fields (nginx's \x22, gorilla's \"), brackets in the
# user field, tabs, a quote where none belongs, fields cut short.
_TRICKY = st.text(alphabet='ab1 "\\[]/:.-\t', max_size=6)


@st.composite
def near_log_lines(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["library/alpine", "grp/sub/app", "UPPER", "a__b"]))
    reference = draw(st.sampled_from(["3.20", D, "sha256:short", "x%3Ay", "-tag"]))
    path = draw(
        st.sampled_from(
            [f"/v2/{name}/manifests/{reference}", f"/v2/{name}/blobs/{D}", "/v2/", "/other"]
        )
    ) + draw(st.sampled_from(["", "?ns=docker.io", "#frag"]))
    request = draw(
        st.builds(
            lambda method, tricky: f"{method} {path}{tricky} HTTP/1.1",
            st.sampled_from(["GET", "HEAD", "PUT", "DELETE", "POST"]),
            st.just("") | _TRICKY,
        )
        | _TRICKY
    )
    fields = {
        "addr": draw(st.sampled_from(["192.0.2.7", "2001:DB8::1", "host"]) | _TRICKY),
        "user": draw(
            st.sampled_from(["-", "[x", "a]b", 'u"v', "alice", "a\\x22b\\x5C", "a" * 300]) | _TRICKY
        ),
        "time": draw(st.sampled_from(["05/Oct/2026:12:00:00 +0000", "05/Oct/2026"]) | _TRICKY),
        "status": draw(st.sampled_from(["200", "206", "404", "2000"])),
        "ua": draw(
            st.sampled_from([DOCKER_UA, 'go \\"x\\" y', "end\\\\", "\\x22q\\x22", "-"]) | _TRICKY
        ),
        "tail": draw(
            st.sampled_from(["", ' 1791204266.402 "-"', f' 1791204266.402 "{D}"', ' 1.5 "x"'])
        ),
    }
    line = (
        f'{fields["addr"]} - {fields["user"]} [{fields["time"]}] "{request}" '
        f'{fields["status"]} 12 "-" "{fields["ua"]}"{fields["tail"]}'
    )
    if draw(st.booleans()):  # one more character anywhere
        at = draw(st.integers(0, len(line)))
        line = line[:at] + draw(st.sampled_from(['"', "\\", " ", "]", "\r"])) + line[at:]
    return line


@pytest.mark.slow
@settings(max_examples=examples(100), deadline=None)
@given(st.lists(near_log_lines(), min_size=1, max_size=12), st.sampled_from(LOG_FORMAT_NAMES))
# a quote in [time] (found by this test), and two quotes after an ident "x]" (eight quotes in
# all, as a pullstats line has): the pattern takes both lines, and cutting them at their
# quotes would read the wrong request
@example([f'192.0.2.7 - - ["] {GOOD}'], "auto")
@example([f'192.0.2.7 x] "y [05/Oct/2026:12:00:00 +0000"] {GOOD}'], "combined")
# text after the last quoted field: the quick path matches only the pieces between quotes, so
# each piece after the last quote must still be checked
@example([f"192.0.2.7 - - [05/Oct/2026:12:00:00 +0000] {GOOD} x"], "auto")
@example([f'192.0.2.7 - - [05/Oct/2026:12:00:00 +0000] {GOOD} 1791204266.402 "-" x'], "auto")
def test_cutting_at_quotes_gives_what_the_pattern_gives(
    lines: list[str], log_format: LogFormat
) -> None:
    # the quick path only takes lines the whole pattern matched; it must take the same fields
    data = "".join(f"{line}\n" for line in lines).encode()
    quick = parse_bytes(data, log_format, per_chunk=False)
    assert_same(quick, parse_bytes(data, log_format, per_chunk=False, cut_at_quotes=False))


# --- what the parser stages passes the record rules, so the import does not check it again -----

#: The window every parse of parse_bytes accepts (the parser's default at RECEIVED_US).
WINDOW = TimeWindow.at(RECEIVED_US, DEFAULT_MAX_SKEW)


def _msec(us: int) -> str:
    return f"{us // 1_000_000}.{us // 1000 % 1000:03d}"


@st.composite
def edge_lines(draw: st.DrawFn) -> str:
    """A pullstats-format request line at the edges of the record rules: addresses in other
    spellings than the normal one, and times at and just past both ends of the window."""
    address = draw(
        st.sampled_from(
            ["192.0.2.7", "2001:DB8::1", "::ffff:192.0.2.1", "192.000.2.1", "fe80::1%eth0", "::",
             "1.2.3.256", "::1.2.3.4", "2001:db8:0:0:0:0:0:1", "0.0.0.0", "[2001:db8::1]"]
        )
    )  # fmt: skip
    time = draw(
        st.sampled_from(
            [WINDOW.earliest_us - 1000, WINDOW.earliest_us, WINDOW.latest_us,
             WINDOW.latest_us + 1000, at("2026-10-05T12:00:00+00:00")]
        )
    )  # fmt: skip
    reference = draw(st.sampled_from(["3.20", D, "sha256:short", "a" * 129, "x%3Ay"]))
    returned = draw(st.sampled_from(["-", P, "sha256:x", ""]))
    return (
        f'{address} - - [05/Oct/2026:12:00:00 +0000] "GET /v2/library/alpine/manifests/'
        f'{reference} HTTP/1.1" 200 12 "-" "{DOCKER_UA}" {_msec(time)} "{returned}"'
    )


def record_problems(requests: pa.Table) -> list[str | None]:
    """What the record rules (lake.unusable) say of each staged request in WINDOW."""
    sql = bind_params(
        f"SELECT {record_problem_sql()} AS problem FROM batch", record_problem_params(WINDOW)
    )
    with duckdb_cursor() as connection:
        connection.register("batch", requests)
        return [problem for (problem,) in connection.execute(sql).fetchall()]


@pytest.mark.slow
@settings(max_examples=examples(150), deadline=None)
@given(st.lists(near_log_lines() | edge_lines(), min_size=1, max_size=12))
def test_every_request_the_parser_stages_passes_the_record_rules(lines: list[str]) -> None:
    # the log import writes the parser's requests without checking them again
    # (RequestWriter.write's checked): this is what makes that safe
    data = "".join(f"{line}\n" for line in lines).encode()
    parsed = parse_bytes(data)
    assert record_problems(parsed.requests) == [None] * parsed.requests.num_rows


def test_the_edges_of_the_record_rules_are_parsed_as_the_rules_take_them() -> None:
    inside, edges = WINDOW.latest_us, [WINDOW.earliest_us - 1000, WINDOW.latest_us + 1000]
    lines = [
        f'{address} - - [05/Oct/2026:12:00:00 +0000] "GET /v2/library/alpine/manifests/3.20 '
        f'HTTP/1.1" 200 12 "-" "{DOCKER_UA}" {_msec(time)} "-"\n'
        for address, time in [
            ("2001:DB8::1", inside),  # upper case: written in its normal spelling
            ("::ffff:192.0.2.1", inside),  # IPv4-mapped: written as IPv4
            ("192.000.2.1", inside),  # not an address Python reads: skipped
            *(("192.0.2.7", time) for time in edges),  # outside the window: skipped
        ]
    ]
    parsed = parse_bytes("".join(lines).encode())
    assert parsed.requests["ip"].to_pylist() == ["2001:db8::1", "192.0.2.1"]
    assert parsed.skipped == {"invalid_address": 1, "timestamp_out_of_range": 2}
    assert record_problems(parsed.requests) == [None, None]
    # the rules would have refused what the parser read as written
    as_written = parsed.requests.set_column(
        SPOOL_SCHEMA.get_field_index("ip"), "ip", pa.array(["2001:DB8::1", "192.0.2.1"])
    )
    assert record_problems(as_written) == ["invalid_record", None]
