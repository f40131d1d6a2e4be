"""``PULLSTATS_PASSWORD_HASHING``: the cost of new hashes, never of verifying stored ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import extract_parameters

from pullstats.accounts import passwords
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, start_server


@pytest.fixture
def restore_hashing() -> Iterator[None]:
    before = passwords._hashing
    yield
    passwords.use_hashing(before)


def test_the_setting_sets_the_cost_of_new_hashes(data_dir: Path, restore_hashing: None) -> None:
    costs = {}
    for hashing in ("standard", "insecure-test"):
        Runtime.open(catalog_settings(data_dir, password_hashing=hashing)).close()
        parameters = extract_parameters(passwords.hash_password("a long enough passphrase"))
        costs[hashing] = (parameters.memory_cost, parameters.time_cost, parameters.parallelism)
    # RFC 9106 §4, second recommended option: 64 MiB, 3 passes, 4 lanes
    assert costs["standard"] == (64 * 1024, 3, 4)
    assert costs["insecure-test"] < costs["standard"]


def test_a_stored_hash_verifies_whatever_the_setting_is_now(restore_hashing: None) -> None:
    passwords.use_hashing("standard")
    strong = passwords.hash_password("first passphrase here")
    passwords.use_hashing("insecure-test")
    cheap = passwords.hash_password("second passphrase here")
    for hashing in ("standard", "insecure-test"):
        passwords.use_hashing(hashing)
        assert passwords.verify_password(strong, "first passphrase here")
        assert passwords.verify_password(cheap, "second passphrase here")
        assert not passwords.verify_password(strong, "second passphrase here")
        assert not passwords.verify_password(None, "first passphrase here")


def test_a_server_with_test_hashing_says_so(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = start_server(data_dir, log, {"PULLSTATS_PASSWORD_HASHING": "insecure-test"})
    server.stop()
    assert "PULLSTATS_PASSWORD_HASHING=insecure-test" in log.read_text()
    assert "never on a real installation" in log.read_text()
