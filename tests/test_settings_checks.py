"""Settings that DuckDB or SQLAlchemy would refuse in words of their own are refused naming the
variable, as the one line the command line shows (``cli.common.error_lines``): when they are
read, or (DuckDB's memory limit, whose grammar is DuckDB's) when DuckDB is first opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pullstats.cli.common import error_lines
from pullstats.config import SettingRefused, Settings
from pullstats.duckdb_engine import connect


def refused_when_read(monkeypatch: pytest.MonkeyPatch, **environ: str) -> list[str]:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    return error_lines(refused.value)


def test_duckdb_threads_are_at_least_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert refused_when_read(monkeypatch, PULLSTATS_DUCKDB_THREADS="0") == [
        "PULLSTATS_DUCKDB_THREADS='0': input should be greater than or equal to 1"
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("lots", "Memory must have a number (e.g. 1GB)"),
        ("800%", "Unable to parse valid percentage (input: 800%)"),
        ("1,5GB", "Unknown unit for memory: ',5gb'"),
    ],
)
def test_a_memory_limit_duckdb_cannot_read_names_the_setting(
    tmp_path: Path, value: str, reason: str
) -> None:
    settings = Settings(data_dir=tmp_path, duckdb_memory_limit=value, duckdb_threads=1)
    with pytest.raises(SettingRefused) as refused:
        connect(settings)
    [line] = error_lines(refused.value)
    assert line.startswith(f"PULLSTATS_DUCKDB_MEMORY_LIMIT={value!r}: DuckDB: {reason}")


@pytest.mark.parametrize("value", ["1.5GB", "800MiB", "2 gigabytes", "50%", "1g"])
def test_every_spelling_of_a_memory_limit_duckdb_reads_is_taken(tmp_path: Path, value: str) -> None:
    # threads=1: a configuration no other test opens, so this test opens its own database
    settings = Settings(data_dir=tmp_path, duckdb_memory_limit=value, duckdb_threads=1)
    connection = connect(settings)
    try:
        [(limit,)] = connection.execute("SELECT current_setting('memory_limit')").fetchall()
        assert limit.endswith("iB")  # DuckDB says it in its own units: 1.3 GiB for 1.5GB
    finally:
        connection.close()


def test_a_bad_catalog_url_is_refused_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    hidden = "PULLSTATS_DATABASE_URL=(value not shown: it is a secret)"
    not_a_url = "not a database URL: expected postgresql://user@host/database or sqlite:///path"
    for url, message in [
        ("garbage", not_a_url),
        ("://db.example.com", not_a_url),
        ("postgres://app:s3cret@db.example.com/stats", "use postgresql:// for PostgreSQL, not postgres://"),
        ("MySQL+pymysql://app:s3cret@db.example.com/stats",
         "a mysql catalog is not supported: use PostgreSQL (postgresql://…) or SQLite (sqlite:///…)"),
    ]:  # fmt: skip
        lines = refused_when_read(monkeypatch, PULLSTATS_DATABASE_URL=url)
        assert lines == [f"{hidden}: {message}"]
        assert "s3cret" not in lines[0]
    for url in ("postgresql+psycopg://app@127.0.0.1/stats", "sqlite:///catalog.sqlite3"):
        monkeypatch.setenv("PULLSTATS_DATABASE_URL", url)
        assert Settings().database_url_value == url
