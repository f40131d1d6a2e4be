"""Every node hashes and signs with the installation's keys: the catalog holds a fingerprint of
each, and a node whose keys differ, or lack the newest, is refused before it uses them
(db/keys.py). Two data dirs, one catalog."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import event, select

from pullstats.accounts import jwt_tokens
from pullstats.config import Settings
from pullstats.db.keys import KeysDiffer, check_keys, fingerprint
from pullstats.db.models import InstallationKey
from pullstats.exports.signing import check, sign
from pullstats.ingest.records import PullRequestRecord
from pullstats.key_rings import download_key_ring, jwt_key_ring
from pullstats.lake.compaction import compact
from pullstats.runtime import Runtime
from pullstats.signing_keys import rotate
from pullstats.timestamps import micros, now_micros
from tests.conftest import write_spool


def pull(event_id: str, ip: str) -> PullRequestRecord:
    instant = datetime(2026, 1, 7, 10, 0, tzinfo=UTC)
    return PullRequestRecord(
        event_id, micros(instant), "GET", "acme/api", "1.0", "sha256:ab", ip,
        "docker/27.3.1", "notification", now_micros(),
    )  # fmt: skip


def ip_hashes(runtime: Runtime) -> set[bytes]:
    files = sorted(str(p) for p in runtime.paths.requests.rglob("*.parquet"))
    rows = duckdb.sql(f"SELECT DISTINCT ip_hash FROM read_parquet({files!r})").fetchall()
    return {bytes(row[0]) for row in rows}


def catalog_keys(runtime: Runtime) -> dict[tuple[str, str], str]:
    with runtime.sessions() as session:
        rows = session.scalars(select(InstallationKey))
        return {(row.ring, row.kid): row.fingerprint for row in rows}


def test_nodes_sharing_a_keys_dir_count_one_address_once_and_accept_each_others_tokens(
    open_node: Callable[..., Runtime],
) -> None:
    a, b = open_node("node-a"), open_node("node-b")
    write_spool(a, pull("a1", "192.0.2.7"))
    write_spool(b, pull("b1", "192.0.2.7"))  # the same client, through the other node
    compact(a)
    compact(b)
    assert len(ip_hashes(a)) == 1 and ip_hashes(a) == ip_hashes(b)
    key = (a.paths.keys / "ip-hash.key").read_bytes()
    assert catalog_keys(a) == {("ip-hash", "0"): fingerprint(key)}  # a fingerprint, not the key
    assert key.hex() not in str(catalog_keys(a))
    # a login JWT from node-a's server passes node-b's bearer check; so does a download link
    jwt_a, jwt_b = jwt_key_ring(a.settings), jwt_key_ring(b.settings)
    token = jwt_tokens.issue(jwt_a.signing_key(), "alice", timedelta(hours=1))
    assert jwt_tokens.verify(jwt_b, token).subject == "alice"
    grant = sign(download_key_ring(a.settings).signing_key(), 7, "ab" * 32, 900)
    verifying = download_key_ring(b.settings).verifying_key(grant.kid)
    assert verifying is not None
    assert check(verifying.secret, 7, "ab" * 32, grant.expires, grant.signature) is None


def test_a_node_without_the_installations_ip_hash_key_is_refused(
    open_node: Callable[..., Runtime],
) -> None:
    a = open_node("node-a", keys_dir=None)
    write_spool(a, pull("a1", "192.0.2.7"))
    compact(a)  # makes the installation's ip-hash key in node-a's own keys dir
    with pytest.raises(KeysDiffer) as refused:
        open_node("node-b", keys_dir=None)  # a keys dir of its own: empty
    b_keys = a.paths.keys.parent.parent / "node-b" / "keys"
    assert str(refused.value) == (
        f"the keys dir {b_keys} (the data dir's: PULLSTATS_KEYS_DIR is not set): it lacks the "
        "installation's ip-hash key: point "
        "PULLSTATS_KEYS_DIR at the keys every node shares (a shared mount or a mounted secret), "
        "or copy the installation's key files into it"
    )
    (b_keys / "ip-hash.key").write_bytes(b"\x01" * 32)  # a key of its own
    with pytest.raises(KeysDiffer, match=r"its ip-hash key differs from the installation's"):
        open_node("node-b", keys_dir=None)
    shutil.copy(a.paths.keys / "ip-hash.key", b_keys / "ip-hash.key")  # what the line says
    b = open_node("node-b", keys_dir=None)
    write_spool(b, pull("b1", "192.0.2.7"))
    compact(b)
    assert ip_hashes(b) == ip_hashes(a)


def test_a_node_that_opened_before_the_key_was_made_is_refused_before_hashing(
    open_node: Callable[..., Runtime],
) -> None:
    a, b = open_node("node-a", keys_dir=None), open_node("node-b", keys_dir=None)
    write_spool(a, pull("a1", "192.0.2.7"))
    write_spool(b, pull("b1", "192.0.2.7"))
    compact(a)  # node-a made and recorded the key after node-b had opened
    with pytest.raises(KeysDiffer, match="lacks the installation's ip-hash key"):
        compact(b)
    assert not (b.paths.keys / "ip-hash.key").exists()  # nor made one of its own
    # the shared lake holds node-a's request alone: node-b hashed none
    files = sorted(str(p) for p in b.paths.requests.rglob("*.parquet"))
    assert duckdb.sql(f"SELECT id FROM read_parquet({files!r})").fetchall() == [("a1",)]


def test_a_key_made_by_another_worker_while_this_one_checks_is_accepted(
    open_node: Callable[..., Runtime],
) -> None:
    """Two workers of one server start at once: the first makes the download key and records
    it just as the second checks. The second reads the catalog, then the keys dir, so it finds
    the file of every key it finds recorded (read the other way round, a worker whose keys were
    the installation's was refused, and `serve --workers 2` failed to start now and then)."""
    a, b = open_node("node-a"), open_node("node-b")
    made = []

    def another_worker_makes_the_key(conn, cursor, statement, *args: object) -> None:  # type: ignore[no-untyped-def]
        if "installation_keys" in statement and not made:
            made.append(download_key_ring(a.settings).signing_key())
            check_keys(a.sessions, a.paths)

    event.listen(b.engine, "before_cursor_execute", another_worker_makes_the_key)
    try:
        check_keys(b.sessions, b.paths)
    finally:
        event.remove(b.engine, "before_cursor_execute", another_worker_makes_the_key)
    assert made and ("download", made[0].kid) in catalog_keys(b)


def test_a_node_hashing_as_another_makes_the_ip_hash_key_uses_that_key(
    open_node: Callable[..., Runtime],
) -> None:
    """node-b finds no ip-hash key file, and asks the catalog whether the installation has one
    just as node-a makes and records it: node-b hashes with node-a's key, not a refusal."""
    a, b = open_node("node-a"), open_node("node-b")
    write_spool(a, pull("a1", "192.0.2.7"))
    write_spool(b, pull("b1", "192.0.2.7"))

    compacted = []

    def another_node_makes_the_key(conn, cursor, statement, *args: object) -> None:  # type: ignore[no-untyped-def]
        if "installation_keys" in statement and not compacted:
            compacted.append(compact(a))

    event.listen(b.engine, "before_cursor_execute", another_node_makes_the_key)
    try:
        compact(b)
    finally:
        event.remove(b.engine, "before_cursor_execute", another_node_makes_the_key)
    assert len(ip_hashes(b)) == 1 and ip_hashes(b) == ip_hashes(a)


def test_a_rotation_reaches_every_node_sharing_the_keys_and_refuses_a_stale_copy(
    open_node: Callable[..., Runtime], node_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    a = open_node("node-a")
    ring = jwt_key_ring(a.settings)
    ring.signing_key()
    check_keys(a.sessions, a.paths)  # as the server does at start
    stale = tmp_path / "stale-keys"
    shutil.copytree(a.paths.keys, stale)  # a node whose keys were copied once, not shared
    open_node("node-c", keys_dir=stale).close()  # the same keys so far: accepted
    new, _ = rotate(ring)  # as `pullstats keys rotate` does, then records it
    check_keys(a.sessions, a.paths)
    assert ("jwt", new.kid) in catalog_keys(a)
    b = open_node("node-b")  # shares the keys dir: it signs with the new key
    assert jwt_key_ring(b.settings).signing_key() == new
    with pytest.raises(KeysDiffer, match=f"lacks the installation's jwt key {new.kid}"):
        open_node("node-c", keys_dir=stale)
