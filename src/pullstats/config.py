"""Configuration: every setting is a ``PULLSTATS_*`` environment variable, read once at start."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal, Protocol

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pullstats.data_dir import DataDir


def parse_networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """``"10.0.0.1, 192.168.0.0/16"`` → networks; a bad entry raises ValueError naming it."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            try:
                networks.append(ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or network: {entry!r}") from None
    return tuple(networks)


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
    public_url: str | None = Field(
        None,
        description="Base URL of absolute links (download URLs), e.g. https://stats.example.com; "
        "default: the request's own base URL.",
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
    max_request_head_bytes: int = Field(
        32 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="Largest request line plus headers the server reads; past it the answer "
        "is 431 and the connection is closed.",
    )
    ingest_max_body_bytes: int = Field(
        16 * 1024 * 1024, description="Largest notification envelope accepted, in bytes."
    )
    ingest_max_events: int = Field(
        10_000,
        ge=1,
        description="Most events one notification envelope may hold; a larger one is refused "
        "(413) before any event is looked at; nothing of it is stored.",
    )
    max_clock_skew: timedelta = Field(
        timedelta(days=1),
        description="How far past the server clock a request time may lie; later times, and "
        "times before 2000-01-01, are rejected at ingest and set aside by process.",
    )
    spool_segment_bytes: int = Field(
        64 * 1024 * 1024, description="A spool segment is closed past this size."
    )
    duckdb_memory_limit: str = Field(
        "1.5GB", description="memory_limit of every DuckDB connection."
    )
    duckdb_threads: int = Field(2, description="threads of every DuckDB connection.")
    engine: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description="What runs classification, rollups and exports (`process` after "
        "compaction, and `export`): `duckdb` in process, or `spark` (Apache Spark, PySpark; "
        "docs/spark.md). Compaction always runs on DuckDB.",
    )
    spark_master: str = Field(
        "local[*]",
        description="The Spark master of `PULLSTATS_ENGINE=spark` (local[*], spark://host:port, "
        "yarn, k8s://…); under spark-submit its --master wins.",
    )
    geoip_country_db: Path | None = Field(
        None,
        description="MaxMind GeoIP2/GeoLite2 Country or City .mmdb file; replaces the bundled "
        "country data when set.",
    )
    geoip_asn_db: Path | None = Field(
        None,
        description="MaxMind GeoIP2/GeoLite2 ASN .mmdb file; replaces the bundled network "
        "organisation data when set.",
    )
    geoip_domain_db: Path | None = Field(
        None,
        description="MaxMind GeoIP2 Domain (or Enterprise) .mmdb file; fills the domain column "
        "when set (no bundled data has domains).",
    )
    password_hashing: Literal["standard", "insecure-test"] = Field(
        "standard",
        description="argon2id cost of new password hashes: `standard` is RFC 9106's "
        "low-memory profile (64 MiB, 3 passes); `insecure-test` is the cheapest argon2id, so "
        "that a test suite can create hundreds of users. Never use it on a real installation: "
        "the server warns at start. Stored hashes keep the cost they were made with.",
    )
    login_attempts_per_account: int = Field(
        10, ge=1, description="Failed logins allowed per account name within the window."
    )
    login_attempts_per_ip: int = Field(
        50, ge=1, description="Failed logins allowed per client IP within the window."
    )
    login_attempts_window: timedelta = Field(
        timedelta(minutes=15), description="Sliding window of the login rate limits."
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated IPs or CIDR networks of reverse proxies whose "
        "X-Forwarded-For is believed; empty: the socket's peer is the client.",
    )

    @field_validator("max_clock_skew")
    @classmethod
    def _skew_bounded(cls, value: timedelta) -> timedelta:
        # the window must end well inside the calendar (see ingest/time_window.py)
        if not timedelta(0) <= value <= timedelta(days=366):
            raise ValueError("must be between 0 and 366 days, e.g. P1D or PT12H")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        parse_networks(value)  # fail at start, with the bad entry named, not on a request
        return value

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return parse_networks(self.trusted_proxies)

    @cached_property
    def paths(self) -> DataDir:
        return DataDir(self.data_dir.resolve())

    @property
    def database_url_value(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.paths.root / 'catalog.sqlite3'}"

    # -- exports (stage 4) and the job schedule ------------------------------------------------
    export_part_bytes: int = Field(
        256 * 1024 * 1024,
        ge=4096,
        description="An export view is split into parts of at most this many uncompressed "
        "bytes (header included); each part has its own header row.",
    )
    schedule_interval: timedelta = Field(
        timedelta(minutes=15),
        description="How often the server runs `pullstats process` then `pullstats export` "
        "(niced child processes under the job lock); 0 turns the schedule off.",
    )
    download_link_lifetime: timedelta = Field(
        timedelta(minutes=15), description="How long a signed export download link works."
    )
    access_log: bool = Field(
        False,
        description="Log one line per HTTP request (client, method, path without its query "
        "string, status, milliseconds) on stderr. Off by default: /metrics counts requests, "
        "and a proxy in front usually logs them already.",
    )

    @field_validator("schedule_interval", mode="before")
    @classmethod
    def _interval_seconds(cls, value: object) -> object:
        # "0" (off) and bare seconds are accepted here besides the ISO 8601 durations
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            return timedelta(seconds=float(value))
        return value


class Configured(Protocol):
    """What a stage that needs no database takes: the settings and the data dir.

    :class:`pullstats.runtime.Runtime` is one; classification asks for no more, so it cannot
    reach the catalog.
    """

    @property
    def settings(self) -> Settings: ...

    @property
    def paths(self) -> DataDir: ...
