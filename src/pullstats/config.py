"""Configuration: every setting is a ``PULLSTATS_*`` environment variable, read once at start."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from pullstats.lake.layout import DataDir


class Settings(BaseSettings):
    """The whole configuration of one pullstats process.

    Secrets (keys, tokens) are never settings: they are generated into the data dir, so nothing
    secret passes through the environment or reaches a log.
    """

    model_config = SettingsConfigDict(env_prefix="PULLSTATS_", frozen=True)

    data_dir: Path = Field(
        Path("./pullstats-data"), description="Where spool, lake, keys and exports live."
    )
    database_url: SecretStr | None = Field(
        None, description="SQLAlchemy URL of the catalog; default SQLite in the data dir."
    )
    close_grace: timedelta = Field(
        timedelta(hours=2), description="How long after its end a period waits before it closes."
    )
    retention_spool: timedelta = Field(
        timedelta(days=7),
        description="Compacted spool segments (the only raw IPs) are deleted after this long; "
        "never less than the close grace.",
    )
    jwt_ttl: timedelta = Field(timedelta(hours=1), description="Lifetime of a login JWT.")
    ingest_max_body_bytes: int = Field(
        16 * 1024 * 1024, description="Largest notification envelope accepted, in bytes."
    )
    spool_segment_bytes: int = Field(
        64 * 1024 * 1024, description="A spool segment is closed past this size."
    )
    duckdb_memory_limit: str = Field(
        "1.5GB", description="memory_limit of every DuckDB connection."
    )
    duckdb_threads: int = Field(2, description="threads of every DuckDB connection.")

    @cached_property
    def paths(self) -> DataDir:
        return DataDir(self.data_dir.resolve())

    @property
    def database_url_value(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.paths.root / 'catalog.sqlite3'}"
