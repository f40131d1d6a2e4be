"""Authenticated users reach the lake as keyed hashes (lake/user_hash.py, lake/compaction.py):
one user is one hash in every repository and on every node, an anonymous request has none,
and the name itself is in no lake file."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from pullstats.ingest.records import PullRequestRecord
from pullstats.lake.ip_hash import IP_HASH_KEY, hash_ips
from pullstats.lake.user_hash import hash_users, user_key
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros
from tests.conftest import write_spool

KEY = b"k" * 32


def test_a_user_hash_is_hmac_sha256_under_a_derived_key_cut_to_16_bytes() -> None:
    derived = hmac.new(KEY, b"pullstats user hash v1", hashlib.sha256).digest()
    assert user_key(KEY) == derived
    hashed = hash_users(pa.array(["alice", "", None, "alice", "bob"]), user_key(KEY))
    alice = hmac.new(derived, b"alice", hashlib.sha256).digest()[:16]
    bob = hmac.new(derived, b"bob", hashlib.sha256).digest()[:16]
    assert hashed.to_pylist() == [alice, None, None, alice, bob]
    # a user named like an address never hashes like the address
    assert hash_users(pa.array(["192.0.2.1"]), user_key(KEY)) != hash_ips(
        pa.array(["192.0.2.1"]), KEY
    )


def pull(event_id: str, repo: str, ip: str, minute: int, user: str) -> PullRequestRecord:
    at = micros(datetime(2026, 1, 7, 10, minute, tzinfo=UTC))
    return PullRequestRecord(
        event_id, at, "GET", repo, "1.0", "sha256:" + "ab" * 32, ip, "docker/27.3.1",
        "notification", at, "", user,
    )  # fmt: skip


def column(runtime: Runtime, table: str, name: str) -> list[object]:
    files = sorted((runtime.paths.root / "lake" / table).rglob("*.parquet"))
    return [value for path in files for value in pq.read_table(path)[name].to_pylist()]


def test_users_reach_the_requests_and_actions_as_hashes_only(runtime: Runtime) -> None:
    write_spool(
        runtime,
        pull("a", "acme/api", "192.0.2.1", 0, "ci-bot"),
        pull("b", "acme/web", "192.0.2.9", 1, "ci-bot"),  # the same user elsewhere
        pull("c", "acme/api", "192.0.2.2", 2, "alice"),
        pull("d", "acme/api", "192.0.2.3", 3, ""),  # anonymous
    )
    process(runtime)
    key = user_key((runtime.paths.keys / IP_HASH_KEY).read_bytes())
    expected = hash_users(pa.array(["ci-bot", "ci-bot", "alice", ""]), key).to_pylist()
    ids, hashes = column(runtime, "requests", "id"), column(runtime, "requests", "user_hash")
    by_id = dict(zip(ids, hashes, strict=True))
    assert [by_id[i] for i in "abcd"] == expected
    actions = sorted(column(runtime, "actions", "user_hash"), key=lambda v: v or b"")
    assert actions == sorted(expected, key=lambda v: v or b"")
    for path in (runtime.paths.root / "lake").rglob("*.parquet"):
        data = path.read_bytes()
        assert b"ci-bot" not in data and b"alice" not in data, path
