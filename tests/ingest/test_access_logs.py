"""Tests for access-log import: nginx (combined and the pullstats format) and the registry's own
access log, plain, gzip and stdin, through the parser and through the real command line.

The fixture files under ``tests/fixtures/logs/`` are written from the formats' documentation:
nginx's ``log_format combined`` (with its ``\\xHH`` escaping), the pullstats format (combined +
``$msec "$upstream_http_docker_content_digest"``), and the Distribution registry's access log
(gorilla/handlers ``CombinedLoggingHandler``: ``""`` for an empty referer, ``\\"`` and ``\\\\``
escapes), each with bad lines mixed in.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pullstats.importers import log_import
from pullstats.importers.log_import import import_logs
from pullstats.ingest import log_lines
from pullstats.ingest.access_log_formats import LOG_FORMATS, SKIP_REASONS, LogFormat
from pullstats.ingest.access_logs import STAGED_REQUESTS, LogParser
from pullstats.ingest.errors import UnparseableRequest
from pullstats.ingest.log_lines import open_log, read_line_chunks
from pullstats.ingest.notifications import DEFAULT_MAX_SKEW, parse_repository_name
from pullstats.ingest.record_rules import record_problem_params, record_problem_sql
from pullstats.ingest.records import SPOOL_SCHEMA, PullRequestRecord
from pullstats.ingest.time_window import TimeWindow
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.steps import bind_params
from pullstats.timestamps import micros, now_micros
from tests.conftest import catalog_settings, run_cli, write_spool

LOG_FORMAT_NAMES: list[LogFormat] = list(LOG_FORMATS)
LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "logs"
D = "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf"
P = "sha256:c04b14da8d1441880ed3fe6106fb2cc6fa1c9661846ac0266b8a5ec8edf37b7c"
DOCKER_UA = (
    "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0-45-generic os/linux arch/amd64 "
    "UpstreamClient(Docker-Client/27.3.1 \\(linux\\))"
)


@dataclass
class Parsed:
    """A whole input's results: the parser's counts plus the requests it staged."""

    requests: pa.Table
    lines: int
    skipped: Counter[str]
    errors: list[tuple[int, str, str]]
    hours: set[int]


#: When the parser is told the lines arrive: after every fixture's lines (an import rejects
#: lines more than PULLSTATS_MAX_CLOCK_SKEW after it).
RECEIVED_US = micros(datetime(2027, 1, 1, tzinfo=UTC))


@cache
def _parsing_connection() -> duckdb.DuckDBPyConnection:
    """One DuckDB connection for every parse of this module: a new one costs 20 ms, as much as
    a small parse, and the property tests parse thousands of times. A parser replaces the
    tables it uses when it is made, so parses on one connection do not see each other."""
    return duckdb.connect()


def parse_bytes(
    data: bytes,
    log_format: LogFormat = "auto",
    block_bytes: int = 1 << 20,
    *,
    per_chunk: bool = True,
    cut_at_quotes: bool = True,
) -> Parsed:
    """Parse a whole input the way the import does; ``per_chunk`` runs one query per chunk (so
    every chunk boundary is a boundary between queries too), else one query for all."""
    connection = _parsing_connection()
    parser = LogParser(
        connection,
        log_format,
        received_us=RECEIVED_US,
        max_errors=50,
        cut_at_quotes=cut_at_quotes,
    )
    stream, position = open_log(io.BufferedReader(io.BytesIO(data)))
    chunks = read_line_chunks(stream, position, block_bytes=block_bytes)
    results, staged = [], []
    for run in ([chunk] for chunk in chunks) if per_chunk else [chunks]:
        results.append(parser.parse(run))  # each call stages its own requests
        columns = ", ".join(SPOOL_SCHEMA.names)
        staged.append(
            connection.sql(f"SELECT {columns} FROM {STAGED_REQUESTS} ORDER BY recv")
            .to_arrow_table()
            .cast(SPOOL_SCHEMA)
        )
    merged = Parsed(pa.concat_tables(staged), 0, Counter(), [], set())
    for result in results:
        assert result.used + sum(result.skipped.values()) == result.lines
        merged.lines += result.lines
        merged.skipped.update(result.skipped)
        merged.errors.extend(result.errors)
        merged.hours |= result.hours
    assert merged.requests.num_rows == sum(result.used for result in results)
    return merged


def assert_same(parsed: Parsed, other: Parsed) -> None:
    """The same requests (ids included), counts, errors and hours."""
    assert parsed.requests.equals(other.requests)
    assert (parsed.lines, parsed.skipped, parsed.errors, parsed.hours) == (
        other.lines,
        other.skipped,
        other.errors,
        other.hours,
    )


def rows(parsed: Parsed) -> list[tuple[object, ...]]:
    columns = ("ts", "method", "name", "tag", "digest", "ip", "ua")
    return [tuple(row[c] for c in columns) for row in parsed.requests.to_pylist()]


def at(text: str) -> int:
    return micros(datetime.fromisoformat(text).astimezone(UTC))


# --- the parser, on the fixture files -----------------------------------------------------------


def test_nginx_combined_counts_and_requests() -> None:
    parsed = parse_bytes((LOGS / "nginx-combined.log").read_bytes())
    assert parsed.lines == 14
    assert parsed.skipped == Counter(
        not_manifest=2, blob_request=2, non_2xx=1, push=1, invalid_name=1, unparseable=3
    )
    assert rows(parsed) == [
        (at("2026-10-05T14:44:26+02:00"), "HEAD", "acme/web/app", "1.0", "", "203.0.113.7",
         DOCKER_UA),
        (at("2026-10-05T14:44:27+02:00"), "GET", "acme/web/app", "", D, "203.0.113.7", DOCKER_UA),
        (at("2026-10-05T14:50:01+02:00"), "GET", "nginx", "latest", "", "198.51.100.23",
         "containerd/1.7.22"),
        (at("2026-10-05T14:50:01+02:00"), "GET", "nginx", "latest", "", "198.51.100.23",
         "containerd/1.7.22"),
    ]  # fmt: skip
    assert [(n, reason) for n, reason, _ in parsed.errors] == [
        (10, "invalid_name"),
        (12, "unparseable"),
        (13, "unparseable"),
        (14, "unparseable"),
    ]
    assert parsed.errors[1][2].startswith("192.0.2.44 - - [05/Oct/2026:14:52:01")


def test_identical_lines_are_two_requests_with_stable_ids() -> None:
    data = (LOGS / "nginx-combined.log").read_bytes()
    ids = parse_bytes(data).requests["id"].to_pylist()
    assert len(set(ids)) == 4
    assert ids[2].endswith("-1") and ids[3].endswith("-2") and ids[2][:-2] == ids[3][:-2]
    # the same text parsed again (or split into other chunks) gives the same ids
    assert parse_bytes(data, block_bytes=300).requests["id"].to_pylist() == ids


def test_identical_lines_split_across_chunks_keep_counting() -> None:
    line = (LOGS / "nginx-combined.log").read_bytes().splitlines(keepends=True)[4]
    parsed = parse_bytes(line * 5, block_bytes=len(line) * 2)
    ids = parsed.requests["id"].to_pylist()
    assert [i.rsplit("-", 1)[1] for i in ids] == ["1", "2", "3", "4", "5"]


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=1, max_size=30), st.integers(1, 4))
def test_occurrences_follow_a_text_from_call_to_call(picks: list[int], per_call: int) -> None:
    # three texts of one length, so every call (chunk) holds exactly `per_call` lines. The
    # rule: a text's occurrence counts on from the previous call when it was there, else
    # restarts (memory stays bounded by one call)
    line = (LOGS / "nginx-combined.log").read_bytes().splitlines(keepends=True)[4]
    texts = [line.replace(b"1.7.22", b"1.7.2" + str(i).encode()) for i in range(3)]
    lines = [texts[i] for i in picks]
    expected, previous = [], Counter[bytes]()
    for start in range(0, len(lines), per_call):
        here: Counter[bytes] = Counter()
        for text in lines[start : start + per_call]:
            here[text] += 1
            expected.append(f"log-{hashlib.md5(text).hexdigest()}-{previous[text] + here[text]}")
        previous = Counter({text: previous[text] + count for text, count in here.items()})
    parsed = parse_bytes(b"".join(lines), block_bytes=len(line) * per_call)
    assert parsed.requests["id"].to_pylist() == expected


def test_nginx_pullstats_format_counts_and_digests() -> None:
    parsed = parse_bytes((LOGS / "nginx-pullstats.log").read_bytes())
    assert parsed.lines == 11
    assert parsed.skipped == Counter(
        blob_request=1,
        delete=1,
        invalid_digest=1,
        invalid_address=1,
        unparseable=1,
        method=1,
        blank=1,
    )
    ua = "docker/27.3.1 go/go1.22.7 os/linux arch/arm64"
    assert rows(parsed) == [
        (1791204266402000, "HEAD", "acme/web/app", "1.0", D, "203.0.113.9", ua),
        (1791204266611000, "GET", "acme/web/app", "", D, "203.0.113.9", ua),
        (1791204266790000, "GET", "acme/web/app", "", P, "203.0.113.9", ua),
        (1791204300125000, "HEAD", "acme/web/app", "latest", D, "2001:db8::5",
         "Watchtower (Docker)"),
    ]  # fmt: skip
    assert {reason for _, reason, _ in parsed.errors} == {
        "invalid_digest",
        "invalid_address",
        "unparseable",
    }


def test_gzip_gives_the_same_requests_and_ids() -> None:
    plain = parse_bytes((LOGS / "nginx-pullstats.log").read_bytes())
    packed = parse_bytes((LOGS / "nginx-pullstats.log.gz").read_bytes())
    assert packed.requests.equals(plain.requests)
    assert packed.skipped == plain.skipped


def test_registry_access_log() -> None:
    parsed = parse_bytes((LOGS / "registry-access.log").read_bytes())
    assert parsed.lines == 8
    assert parsed.skipped == Counter(not_manifest=1, blob_request=1, non_2xx=1, unparseable=1)
    assert rows(parsed) == [
        (at("2026-10-05T12:15:02+00:00"), "HEAD", "library/alpine", "3.20", "", "172.17.0.1",
         DOCKER_UA),
        (at("2026-10-05T12:15:02+00:00"), "GET", "library/alpine", "", D, "172.17.0.1",
         DOCKER_UA),
        (at("2026-10-05T12:16:40+00:00"), "GET", "library/alpine", "3.20", "", "172.17.0.1",
         'Mozilla/5.0 "quoted" agent'),
        (at("2026-10-05T12:16:43+00:00"), "GET", "library/alpine", "3.20", "", "172.17.0.1",
         "skopeo/1.16"),
    ]  # fmt: skip
    assert parsed.errors == [
        (7, "unparseable", parsed.errors[0][2]),
    ] and parsed.errors[0][2].startswith('time="2026-10-05T12:16:42.123Z"')


def test_format_option_is_strict() -> None:
    pullstats = (LOGS / "nginx-pullstats.log").read_bytes()
    combined = (LOGS / "nginx-combined.log").read_bytes()
    assert parse_bytes(pullstats, "combined").requests.num_rows == 0
    assert parse_bytes(combined, "pullstats").requests.num_rows == 0
    assert parse_bytes(combined, "combined").requests.num_rows == 4
    assert parse_bytes(pullstats, "pullstats").requests.num_rows == 4


def test_last_line_without_newline_is_not_taken() -> None:
    # a log still being written: its last line may be cut anywhere, even where it would parse
    full = (LOGS / "nginx-pullstats.log").read_bytes().splitlines(keepends=True)[0]
    cut = full[: full.index(b'" 1791204266.402')]
    parsed = parse_bytes(full + cut + b'"')
    assert parsed.requests.num_rows == 1
    assert parsed.skipped == Counter(unterminated=1)


def test_bytes_that_are_not_utf8_are_counted_not_fatal() -> None:
    good = (LOGS / "nginx-combined.log").read_bytes().splitlines(keepends=True)[4]
    parsed = parse_bytes(good + b"\xff\xfe garbage \x00\x80\n" + good.replace(b"1.7.22", b"\xe9"))
    assert parsed.lines == 3
    assert parsed.requests.num_rows == 2
    assert parsed.requests["ua"].to_pylist()[1] == "containerd/\ufffd"
    assert parsed.skipped == Counter(unparseable=1)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
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
@settings(max_examples=200, deadline=None)
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


_GOOD = f'"GET /v2/library/alpine/manifests/3.20 HTTP/1.1" 200 12 "-" "{DOCKER_UA}"'


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(st.lists(near_log_lines(), min_size=1, max_size=12), st.sampled_from(LOG_FORMAT_NAMES))
# a quote in [time] (found by this test), and two quotes after an ident "x]" (eight quotes in
# all, as a pullstats line has): the pattern takes both lines, and cutting them at their
# quotes would read the wrong request
@example([f'192.0.2.7 - - ["] {_GOOD}'], "auto")
@example([f'192.0.2.7 x] "y [05/Oct/2026:12:00:00 +0000"] {_GOOD}'], "combined")
# text after the last quoted field: the quick path matches only the pieces between quotes, so
# each piece after the last quote must still be checked
@example([f"192.0.2.7 - - [05/Oct/2026:12:00:00 +0000] {_GOOD} x"], "auto")
@example([f'192.0.2.7 - - [05/Oct/2026:12:00:00 +0000] {_GOOD} 1791204266.402 "-" x'], "auto")
def test_cutting_at_quotes_gives_what_the_pattern_gives(
    lines: list[str], log_format: LogFormat
) -> None:
    # the quick path only takes lines the whole pattern matched; it must take the same fields
    data = "".join(f"{line}\n" for line in lines).encode()
    quick = parse_bytes(data, log_format, per_chunk=False)
    assert_same(quick, parse_bytes(data, log_format, per_chunk=False, cut_at_quotes=False))


# --- what the parser stages passes the record rules, so the import does not check it again -----

#: The window every parse of this module accepts (the parser's default at RECEIVED_US).
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
    connection = duckdb.connect()
    connection.register("batch", requests)
    sql = bind_params(
        f"SELECT {record_problem_sql()} AS problem FROM batch", record_problem_params(WINDOW)
    )
    return [problem for (problem,) in connection.execute(sql).fetchall()]


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
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


# --- the authenticated user (nginx's $remote_user, the head's third field) ----------------------


def _with_user(user: str, tail: str = "") -> str:
    return f"192.0.2.7 - {user} [05/Oct/2026:12:00:00 +0000] {_GOOD}{tail}\n"


def long_user(name: str) -> str:
    """A name past 256 characters, as a record keeps it: worked out here with hashlib."""
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


@pytest.mark.parametrize("tail", ["", ' 1791204266.402 "-"'], ids=["combined", "pullstats"])
@pytest.mark.parametrize("cut_at_quotes", [True, False], ids=["cut", "pattern"])
def test_a_request_carries_the_user_of_its_line(tail: str, cut_at_quotes: bool) -> None:
    written_and_read = [
        ("alice", "alice"),
        ("-", ""),  # anonymous
        ("ci-bot@example.com", "ci-bot@example.com"),
        ("a]b[", "a]b["),  # brackets before [time]
        ("a\\x22b\\x5Cc", 'a"b\\c'),  # nginx writes " and \\ as \\x22 and \\x5C
        ("\\x5Cx22", "\\x22"),  # an escaped backslash, then x22: not a quote
        ("q\\x", "q\\x"),  # no escape nginx writes: left as it is
        ('q\\"r', 'q\\"r'),  # gorilla writes a URL's user unescaped (a line for the pattern)
        ("u" * 256, "u" * 256),  # USER_CHARS characters: kept as it is
        ("u" * 300, long_user("u" * 300)),  # longer: kept whole, as a SHA-256
        ("é" * 256, "é" * 256),  # characters, not bytes
        ("u" * 255 + "\\x22\\x5Cz", long_user("u" * 255 + '"\\z')),  # decoded first
    ]
    data = "".join(_with_user(user, tail) for user, _ in written_and_read).encode()
    parsed = parse_bytes(data, cut_at_quotes=cut_at_quotes)
    assert parsed.skipped == Counter()
    assert parsed.requests["user"].to_pylist() == [read for _, read in written_and_read]
    # the user is not part of any other field
    assert set(parsed.requests["ua"].to_pylist()) == {DOCKER_UA}
    assert set(parsed.requests["ip"].to_pylist()) == {"192.0.2.7"}


def test_the_user_takes_no_part_in_a_lines_reason() -> None:
    # a user does not change why a line is skipped, nor makes it a request
    data = (
        _with_user("alice").replace("manifests/3.20", "blobs/" + D)
        + _with_user("alice").replace(" 200 ", " 401 ")
        + _with_user("alice")
    )
    parsed = parse_bytes(data.encode())
    assert parsed.skipped == Counter(blob_request=1, non_2xx=1)
    assert parsed.requests["user"].to_pylist() == ["alice"]


@pytest.mark.parametrize(
    "name", ["nginx-combined.log", "nginx-pullstats.log", "registry-access.log"]
)
def test_lines_without_a_user_give_an_empty_one(name: str) -> None:
    # nginx writes - for a request without Basic credentials; the registry's own log (gorilla)
    # has no authenticated user to write and always writes -
    for cut_at_quotes in (True, False):
        parsed = parse_bytes((LOGS / name).read_bytes(), cut_at_quotes=cut_at_quotes)
        assert parsed.requests.num_rows == 4
        assert parsed.requests["user"].to_pylist() == [""] * 4


# --- the command line, end to end ---------------------------------------------------------------


def actions(data_dir: Path) -> list[tuple[object, ...]]:
    glob = data_dir / "lake" / "actions" / "day=*" / "*.parquet"
    with duckdb.connect() as connection:
        return connection.execute(
            f"""
            SELECT namespace, repository, action, reference, digest, http_method
            FROM read_parquet('{glob}', hive_partitioning = false)
            ORDER BY timestamp, repository, action
            """
        ).fetchall()


def lake_requests(data_dir: Path) -> list[tuple[object, ...]]:
    glob = data_dir / "lake" / "requests" / "day=*" / "*.parquet"
    with duckdb.connect() as connection:
        return connection.execute(
            f"""
            SELECT source, count(*), count(DISTINCT id)
            FROM read_parquet('{glob}', hive_partitioning = false) GROUP BY source ORDER BY 1
            """
        ).fetchall()


def test_cli_imports_files_then_process_makes_actions(data_dir: Path) -> None:
    result = run_cli(
        data_dir, "ingest", "logs", str(LOGS / "registry-access.log"),
        str(LOGS / "nginx-combined.log"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"{LOGS / 'registry-access.log'}: 8 lines read, 4 used, 4 skipped "
        "(blob_request 1, non_2xx 1, not_manifest 1, unparseable 1)"
    )
    # bad lines by number, never their text (a log line may hold a token)
    assert f"{LOGS / 'registry-access.log'}: unparseable at line 7" in lines
    assert f"{LOGS / 'nginx-combined.log'}: invalid_name at line 10" in lines
    assert f"{LOGS / 'nginx-combined.log'}: unparseable at lines 12, 13, 14" in lines
    assert "time=" not in result.stdout and "192.0.2.44" not in result.stdout
    assert lines[-1].startswith("imported 8 requests from 2 file(s): 8 new, 0 already in the lake")
    processed = run_cli(data_dir, "process")
    assert processed.returncode == 0, processed.stderr
    assert actions(data_dir) == [
        # HEAD 3.20 (digest not logged) + GET by digest in the same second: one pull
        ("library", "alpine", "pull_by_tag", "3.20", D, "GET"),
        ("library", "alpine", "pull_by_tag", "3.20", "", "GET"),
        ("library", "alpine", "pull_by_tag", "3.20", "", "GET"),  # 3 s later: another pull
        # HEAD 1.0 at 12:44:26Z, GET by digest at 12:44:27Z
        ("acme", "web/app", "pull_by_tag", "1.0", D, "GET"),
        # two identical lines: two CI jobs behind one address
        ("library", "nginx", "pull_by_tag", "latest", "", "GET"),
        ("library", "nginx", "pull_by_tag", "latest", "", "GET"),
    ]


def test_cli_reads_stdin_and_reimport_is_a_no_op(data_dir: Path) -> None:
    text = (LOGS / "nginx-pullstats.log").read_text()
    first = run_cli(data_dir, "ingest", "logs", "-", stdin=text)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == (
        "stdin: 11 lines read, 4 used, 7 skipped (blank 1, blob_request 1, delete 1, "
        "invalid_address 1, invalid_digest 1, method 1, unparseable 1)"
    )
    assert run_cli(data_dir, "process").returncode == 0
    assert actions(data_dir) == [
        ("acme", "web/app", "pull_by_tag", "1.0", D, "GET"),
        ("acme", "web/app", "version_check", "latest", D, "HEAD"),
    ]
    assert lake_requests(data_dir) == [("log", 4, 4)]
    # the same lines again, from the gzip file this time: nothing new
    again = run_cli(data_dir, "ingest", "logs", str(LOGS / "nginx-pullstats.log.gz"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == (
        "imported 4 requests from 1 file(s): 0 new, 4 already in the lake"
    )
    assert lake_requests(data_dir) == [("log", 4, 4)]


def notification(instant: datetime, event_id: str = "0c8a3b0e") -> PullRequestRecord:
    return PullRequestRecord(
        event_id, micros(instant), "GET", "acme/web/app", "1.0",
        D, "198.51.100.9", "docker/27.3.1", "notification", now_micros(),
    )  # fmt: skip


def test_overlap_with_notifications_is_refused_unless_allowed(
    data_dir: Path, runtime: Runtime
) -> None:
    # a notification in the hour 12:00Z of the pullstats log, another on a day it does not cover
    write_spool(
        runtime,
        notification(datetime(2026, 10, 5, 12, 30, tzinfo=UTC)),
        notification(datetime(2026, 10, 9, 8, 0, tzinfo=UTC), "5b8e4d47"),
    )
    assert run_cli(data_dir, "process").returncode == 0
    refused = run_cli(
        data_dir, "ingest", "logs", str(LOGS / "nginx-combined.log"),
        str(LOGS / "nginx-pullstats.log"),
    )  # fmt: skip
    assert refused.returncode == 1
    assert "2026-10-05T12:00Z" in refused.stderr
    assert "--allow-overlap" in refused.stderr
    assert "registry-notification" in refused.stderr
    assert lake_requests(data_dir) == [("notification", 2, 2)]  # nothing written
    # an hour without notifications goes in
    later = (LOGS / "nginx-combined.log").read_text().splitlines()[4]
    later = later.replace("05/Oct/2026:14:50:01 +0200", "05/Oct/2026:13:00:00 +0000")
    alone = run_cli(data_dir, "ingest", "logs", "-", stdin=later + "\n")
    assert alone.returncode == 0, alone.stderr
    allowed = run_cli(
        data_dir, "ingest", "logs", "--allow-overlap", str(LOGS / "nginx-pullstats.log")
    )
    assert allowed.returncode == 0, allowed.stderr
    assert lake_requests(data_dir) == [("log", 5, 5), ("notification", 2, 2)]


def test_overlap_is_checked_for_stdin_too(data_dir: Path, runtime: Runtime) -> None:
    write_spool(runtime, notification(datetime(2026, 10, 5, 12, 59, 59, tzinfo=UTC)))
    assert run_cli(data_dir, "process").returncode == 0
    text = (LOGS / "nginx-pullstats.log").read_text()
    refused = run_cli(data_dir, "ingest", "logs", "-", stdin=text)
    assert refused.returncode == 1 and "2026-10-05T12:00Z" in refused.stderr
    assert lake_requests(data_dir) == [("notification", 1, 1)]


def test_cli_errors_are_one_line(data_dir: Path, tmp_path: Path) -> None:
    missing = run_cli(data_dir, "ingest", "logs", str(tmp_path / "nope.log"))
    assert missing.returncode == 1 and "nope.log: no such file" in missing.stderr
    bad_format = run_cli(data_dir, "ingest", "logs", "--format", "json", "-", stdin="")
    assert bad_format.returncode == 1 and "--format must be one of" in bad_format.stderr
    damaged = tmp_path / "damaged.log.gz"
    damaged.write_bytes((LOGS / "nginx-pullstats.log.gz").read_bytes()[:60])
    cut = run_cli(data_dir, "ingest", "logs", str(damaged))
    assert cut.returncode == 1 and "damaged.log.gz:" in cut.stderr
    garbage = tmp_path / "app.log"
    garbage.write_text("level=info msg=started\nlevel=info msg=ready\n")
    wrong = run_cli(data_dir, "ingest", "logs", str(garbage))
    assert wrong.returncode == 1
    assert "app.log: not an access log: no line is in the combined or pullstats format" in (
        wrong.stderr
    )


# --- the bulk path: one query for many chunks, ids, segments and flushes -----------------------


@pytest.mark.slow
def test_one_query_for_all_chunks_gives_what_one_query_per_chunk_gives() -> None:
    data = b"".join(
        (LOGS / name).read_bytes() for name in ("nginx-combined.log", "nginx-pullstats.log")
    )
    for block_bytes in (200, 1000, 1 << 20):
        each = parse_bytes(data, block_bytes=block_bytes)
        assert_same(each, parse_bytes(data, block_bytes=block_bytes, per_chunk=False))
    # identical lines further apart than one call's lines restart their count: a re-import
    # then drops them as already in the lake (the limit docs/access-logs.md states)
    tripled = parse_bytes(data * 3, block_bytes=200, per_chunk=False)
    assert len(set(tripled.requests["id"].to_pylist())) == 3 * 8


def test_a_text_repeated_over_several_calls_keeps_counting() -> None:
    # each call holds one line: the count is carried from call to call, not only to the next
    line = f"192.0.2.7 - - [05/Oct/2026:12:00:00 +0000] {_GOOD}\n".encode()
    data = line * 4 + line.replace(b"192.0.2.7", b"192.0.2.8") + line
    digest = hashlib.md5(line).hexdigest()
    each = parse_bytes(data, block_bytes=len(line))
    assert each.requests["id"].to_pylist()[:4] == [f"log-{digest}-{k}" for k in range(1, 5)]
    # a different line in between: the last one counts from 1 again (nearby repeats only)
    assert each.requests["id"].to_pylist()[5] == f"log-{digest}-1"
    whole = parse_bytes(data, per_chunk=False)
    assert whole.requests["id"].to_pylist()[:4] == each.requests["id"].to_pylist()[:4]
    assert whole.requests["id"].to_pylist()[5] == f"log-{digest}-5"


def test_ids_are_the_md5_of_the_line_and_its_occurrence() -> None:
    # the id scheme is what makes a re-import a no-op, so it must never change
    data = (LOGS / "nginx-combined.log").read_bytes()
    lines = data.splitlines(keepends=True)
    parsed = parse_bytes(data, per_chunk=False)
    seen: Counter[bytes] = Counter()
    expected = []
    for recv in parsed.requests["recv"].to_pylist():  # recv is received_us + the line number
        line = lines[recv - RECEIVED_US - 1]
        seen[line] += 1
        expected.append(f"log-{hashlib.md5(line).hexdigest()}-{seen[line]}")
    assert seen.total() == 4 and max(seen.values()) == 2
    assert parsed.requests["id"].to_pylist() == expected


def test_errors_keep_their_line_numbers_across_chunks_and_queries() -> None:
    data = (LOGS / "nginx-combined.log").read_bytes() * 2
    parsed = parse_bytes(data, block_bytes=256, per_chunk=False)
    assert [n for n, _, _ in parsed.errors] == [10, 12, 13, 14, 24, 26, 27, 28]


@pytest.mark.slow
def test_import_in_segments_and_flushes_counts_every_line_once(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # many small queries and many small writes give what one of each gives
    log = tmp_path / "big.log.gz"
    text = (LOGS / "nginx-pullstats.log").read_bytes() + (LOGS / "nginx-combined.log").read_bytes()
    with gzip.open(log, "wb") as handle:
        for day in range(20):
            handle.write(text.replace(b"05/Oct/2026", b"%02d/Oct/2026" % (day + 1)))
    with monkeypatch.context() as patched:
        patched.setattr(log_import, "SEGMENT_BYTES", 2000)
        patched.setattr(log_lines, "BLOCK_BYTES", 700)
        split = import_logs(runtime, [str(log)])
    assert split.written == split.used == 20 * 8
    files = list(runtime.paths.requests.glob("day=*/part-*.parquet"))
    assert len(files) > 10  # written in many segments
    whole = import_logs(runtime, [str(log), str(LOGS / "nginx-combined.log")])
    assert whole.sources[0].lines == split.sources[0].lines
    assert whole.sources[0].skipped == split.sources[0].skipped
    assert whole.sources[0].errors == split.sources[0].errors
    assert whole.written == 0 and whole.used == split.used + 4
    assert lake_requests(runtime.paths.root) == [("log", split.used, split.used)]


@pytest.mark.slow
@pytest.mark.parametrize("hold", [log_import.HOLD_REQUESTS, 5])  # held, or read twice
def test_files_the_overlap_guard_lets_in_are_written_whole(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hold: int
) -> None:
    # a notification on a day the logs do not cover: the guard is on, and lets them in
    write_spool(runtime, notification(datetime(2026, 11, 9, 8, 0, tzinfo=UTC)))
    process(runtime)
    log = tmp_path / "days.log"
    text = (LOGS / "nginx-pullstats.log").read_bytes()
    log.write_bytes(b"".join(text.replace(b"05/Oct/2026", b"%02d/Oct/2026" % d) for d in (1, 2)))
    logs = [str(log), str(LOGS / "nginx-combined.log")]
    with monkeypatch.context() as patched:  # many segments: requests held from each of them
        patched.setattr(log_import, "SEGMENT_BYTES", 2000)
        patched.setattr(log_lines, "BLOCK_BYTES", 700)
        patched.setattr(log_import, "HOLD_REQUESTS", hold)
        guarded = import_logs(runtime, logs)
    assert [source.used for source in guarded.sources] == [2 * 4, 4]
    assert guarded.written == guarded.used
    # the same requests, ids included, and the same report as an import that does not check
    other = Runtime.open(catalog_settings(tmp_path / "unchecked"))
    try:
        unchecked = import_logs(other, logs, allow_overlap=True)
        assert unchecked.sources == guarded.sources
        assert unchecked.written == guarded.written
        assert log_ids(other) == log_ids(runtime)
    finally:
        other.close()


def log_ids(runtime: Runtime) -> list[str]:
    glob = runtime.paths.requests / "day=*" / "*.parquet"
    with duckdb.connect() as connection:
        rows = connection.execute(
            f"SELECT id FROM read_parquet('{glob}') WHERE source = 'log' ORDER BY id"
        ).fetchall()
    return [row[0] for row in rows]
