"""No record stops ``process``: what no later stage can take is set aside by reason, counted,
and the rest is processed (lake/set_aside.py, ingest/record_rules.py, lake/spool_lines.py)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from pullstats.lake.set_aside import set_aside_counts
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros
from tests.conftest import run_cli, write_spool_lines

AN_HOUR_AGO = micros(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
GOOD: dict[str, Any] = {
    "id": "good",
    "ts": AN_HOUR_AGO,
    "method": "GET",
    "name": "acme/api",
    "tag": "1.0",
    "digest": "sha256:" + "a" * 64,
    "ip": "198.51.100.7",
    "ua": "docker/27.3.1 go/go1.22.7",
    "src": "notification",
    "recv": AN_HOUR_AGO,
}


def spool(runtime: Runtime, *lines: bytes) -> None:
    write_spool_lines(runtime, b"".join(lines))


def line(**fields: Any) -> bytes:
    return json.dumps({**GOOD, **fields}).encode() + b"\n"


def good_lines() -> list[bytes]:
    # two pulls of one client a minute apart: two actions
    return [line(id="good-1"), line(id="good-2", ts=AN_HOUR_AGO + 60_000_000)]


INVALID = {
    # before the rules, a NULL name reached the rollups and stopped every later run there
    "no name": {"name": None},
    "name outside the grammar": {"name": "Acme//API"},
    "namespace past 64 characters": {"name": "a" * 65 + "/api"},
    "a POST": {"method": "POST"},
    "no method": {"method": None},
    "neither tag nor digest": {"tag": "", "digest": ""},
    "tag outside the grammar": {"tag": "-1.0"},
    "digest outside the grammar": {"digest": "sha256"},
    "no address": {"ip": None},
    "not an address": {"ip": "not-an-ip"},
    "no id": {"id": None},
    "no arrival time": {"recv": None},
    "no source": {"src": ""},
    "no user agent field": {"ua": None},
}


@pytest.mark.parametrize("change", INVALID.values(), ids=INVALID.keys())
def test_an_invalid_record_is_set_aside_and_the_rest_processed(
    runtime: Runtime, change: dict[str, Any]
) -> None:
    first, second = good_lines()
    spool(runtime, first, line(**{"id": "bad", "user": "ci-bot", **change}), second)
    result = process(runtime)
    assert result.compaction.written == 2
    assert result.compaction.set_aside == {"invalid_record": 1}
    assert result.actions == 2
    assert set_aside_counts(runtime.settings) == {"invalid_record": 1}
    [part] = (runtime.paths.root / "lake" / "set-aside" / "invalid_record").rglob("*.parquet")
    kept = pq.read_table(part)
    assert "ip" not in kept.column_names and "ip_hash" in kept.column_names
    # nor the user's name: its keyed hash, as in the lake
    assert "user" not in kept.column_names and b"ci-bot" not in part.read_bytes()
    assert kept["user_hash"].to_pylist()[0] is not None
    assert kept["method"].to_pylist() == [change.get("method", "GET")]
    # a second run finds nothing new and counts the record once
    assert process(runtime).compaction.set_aside == {}
    assert set_aside_counts(runtime.settings) == {"invalid_record": 1}


DAMAGED = {
    "not JSON": b'{"id": "x", "ts": \n',
    "a JSON array": b'["198.51.100.9"]\n',
    "a time that is text": line(ts="yesterday"),
    "a time past 64 bits": line(ts=2**64),
    "a boolean arrival time": line(recv=True),
    "a name that is a number": line(name=7),
    "a lone surrogate": line(ua="\ud800"),
}


@pytest.mark.parametrize("damaged", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_line_is_located_and_set_aside_without_its_text(
    runtime: Runtime, damaged: bytes
) -> None:
    first, second = good_lines()
    spool(runtime, first, damaged, second)
    result = process(runtime)
    assert result.compaction.written == 2
    assert result.compaction.set_aside == {"damaged_line": 1}
    assert result.actions == 2
    [part] = (runtime.paths.root / "lake" / "set-aside" / "damaged_line").rglob("*.parquet")
    kept = pq.read_table(part).to_pylist()
    [segment] = runtime.paths.spool.iterdir()
    assert [(k["segment"], k["offset"], k["length"], k["sha256"]) for k in kept] == [
        (segment.stem, len(first), len(damaged), hashlib.sha256(damaged).hexdigest())
    ]
    assert segment.read_bytes()[len(first) : len(first) + len(damaged)] == damaged
    assert b"198.51.100" not in part.read_bytes()


def test_process_reports_what_it_set_aside_by_reason(runtime: Runtime, data_dir: Path) -> None:
    first, second = good_lines()
    spool(runtime, first, line(id="bad", name=None), b"{\n", line(id="old", ts=0), second)
    processed = run_cli(data_dir, "process")
    assert processed.returncode == 0, processed.stderr
    assert (
        "3 set aside (damaged_line 1, invalid_record 1, timestamp_out_of_range 1)"
        in processed.stdout
    )
    status = run_cli(data_dir, "status")
    assert status.returncode == 0, status.stderr
    assert (
        "set aside by process: 3 records "
        "(damaged_line 1, invalid_record 1, timestamp_out_of_range 1)" in status.stdout
    )
