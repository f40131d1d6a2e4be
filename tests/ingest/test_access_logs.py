"""Tests for the access-log parser on the fixture files: nginx (combined and the pullstats format)
and the registry's own access log, plain and gzip, and the user a request carries.

The fixtures are described in :mod:`tests.ingest.access_log_parsing`; the parser's properties
(any text, the quick path against the pattern, the record rules) are in
``test_access_log_properties.py``, its ids and chunks in ``test_access_log_chunks.py``, and
the import command in ``tests/importers/test_log_import.py``.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from collections import Counter
from collections.abc import Callable

import pytest

from pullstats.ingest.log_lines import UnreadCompression, UnreadEncoding
from tests.ingest.access_log_parsing import (
    DOCKER_UA,
    GOOD,
    LOGS,
    D,
    P,
    at,
    parse_bytes,
    rows,
)

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


def test_bzip2_and_xz_give_the_same_requests_and_ids() -> None:
    # logrotate's compresscmd may be bzip2 or xz; a file of two streams (cat a.xz b.xz) is
    # read whole, as gzip's members are
    text = (LOGS / "nginx-pullstats.log").read_bytes()
    half = text.index(b"\n", len(text) // 2) + 1
    plain = parse_bytes(text)
    assert (plain.lines, plain.requests.num_rows) == (11, 4)
    for compress in (bz2.compress, lzma.compress):
        packed = parse_bytes(compress(text[:half]) + compress(text[half:]), block_bytes=300)
        assert packed.requests.equals(plain.requests)
        assert (packed.lines, packed.skipped) == (plain.lines, plain.skipped)


@pytest.mark.parametrize("magic", [b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18"], ids=["zstd", "lz4"])
def test_a_zstd_or_lz4_log_is_refused_saying_how_to_read_it(magic: bytes) -> None:
    with pytest.raises(UnreadCompression, match=r"give it decompressed through a pipe, as <\("):
        parse_bytes(magic + b"\x00" * 64)


def test_a_utf16_log_is_refused_saying_how_to_read_it() -> None:
    # a log saved by a Windows tool: every line would be unparseable, and the import would
    # say only "not an access log"
    text = (LOGS / "nginx-pullstats.log").read_text()
    for encoding in ("utf-16", "utf-16-be"):
        data = (
            ("\ufeff" + text).encode(encoding) if encoding.endswith("be") else text.encode(encoding)
        )
        with pytest.raises(UnreadEncoding, match=r"as <\(iconv -f UTF-16 -t UTF-8 FILE\)"):
            parse_bytes(data)
        # compressed by logrotate after the tool wrote it: the mark is behind the compression
        for compress, cat in (
            (gzip.compress, "zcat"),
            (bz2.compress, "bzcat"),
            (lzma.compress, "xzcat"),
        ):
            hint = rf"as <\({cat} FILE \| iconv -f UTF-16 -t UTF-8\)"
            with pytest.raises(UnreadEncoding, match=hint):
                parse_bytes(compress(data))


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


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_the_last_line_of_a_compressed_log_is_whole_without_its_newline(
    compress: Callable[[bytes], bytes],
) -> None:
    # a compressed file read to its end marker is finished: nothing will complete its last line
    lines = (LOGS / "nginx-pullstats.log").read_bytes().splitlines(keepends=True)
    unended = lines[0] + lines[0].rstrip(b"\n")  # one request, then the same one unended
    assert parse_bytes(unended).skipped == Counter(unterminated=1)  # plain: still being written
    parsed = parse_bytes(compress(unended))
    assert (parsed.lines, parsed.requests.num_rows, parsed.skipped) == (2, 2, Counter())
    # and the newline is not added twice where it is there
    assert parse_bytes(compress(unended + b"\n")).requests.num_rows == 2


def test_bytes_that_are_not_utf8_are_counted_not_fatal() -> None:
    good = (LOGS / "nginx-combined.log").read_bytes().splitlines(keepends=True)[4]
    parsed = parse_bytes(good + b"\xff\xfe garbage \x00\x80\n" + good.replace(b"1.7.22", b"\xe9"))
    assert parsed.lines == 3
    assert parsed.requests.num_rows == 2
    assert parsed.requests["ua"].to_pylist()[1] == "containerd/\ufffd"
    assert parsed.skipped == Counter(unparseable=1)


# --- the authenticated user (nginx's $remote_user, the head's third field) ----------------------


def _with_user(user: str, tail: str = "") -> str:
    return f"192.0.2.7 - {user} [05/Oct/2026:12:00:00 +0000] {GOOD}{tail}\n"


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


def test_an_offset_no_clock_has_is_an_invalid_time() -> None:
    # DuckDB's %z reads +0099 as 1 h 39 min and +2500 as 25 h: the pull would move to
    # another hour or day
    def line(offset: str) -> str:
        return f"192.0.2.7 - - [05/Oct/2026:12:00:00 {offset}] {GOOD}\n"

    valid = {
        "+0000": "2026-10-05T12:00:00+00:00",
        "+0530": "2026-10-05T06:30:00+00:00",
        "+1400": "2026-10-04T22:00:00+00:00",
        "-1200": "2026-10-06T00:00:00+00:00",
        "-0945": "2026-10-05T21:45:00+00:00",
    }
    invalid = ["+0099", "-0060", "+2500", "+9900", "+1460", "+1500", "-1a00"]
    parsed = parse_bytes("".join(line(offset) for offset in [*valid, *invalid]).encode())
    assert [row[0] for row in rows(parsed)] == [at(text) for text in valid.values()]
    assert parsed.skipped == Counter(invalid_time=len(invalid))


def test_a_utf8_byte_order_mark_is_left_out() -> None:
    # a Windows tool may start a UTF-8 file with one: the first line would not parse
    text = (LOGS / "nginx-pullstats.log").read_bytes()
    plain = parse_bytes(text)
    for data in (b"\xef\xbb\xbf" + text, gzip.compress(b"\xef\xbb\xbf" + text)):
        marked = parse_bytes(data)
        assert marked.requests.equals(plain.requests)
        assert (marked.lines, marked.skipped) == (plain.lines, plain.skipped)
