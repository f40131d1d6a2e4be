"""Configuration: every setting is a ``PULLSTATS_*`` environment variable, read once at start."""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pullstats.data_dir import NODE_NAME, DataDir
from pullstats.s3_store import DEFAULT_TIMEOUT
from pullstats.setting_values import (
    DURATION_BOUNDS,
    check_database_url,
    check_duration,
    host_patterns,
    parse_months_days,
    parse_networks,
)
from pullstats.storage import Store
from pullstats.store_settings import (
    check_public_endpoint,
    check_store_url,
    open_store,
    public_endpoint,
)


class Settings(BaseSettings):
    """The whole configuration of one pullstats process.

    Secrets (keys, tokens) are never settings: they are generated into the keys dir, so nothing
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
    allowed_hosts: str | None = Field(
        None,
        description="The host names (or addresses) the server answers to, comma-separated, e.g. "
        "stats.example.com,10.0.0.5 (*.example.com: any below it); a request naming another "
        "in its Host header is answered 400. Default: any.",
    )
    close_grace: timedelta = Field(
        timedelta(hours=2), description="How long after its end a period waits before it closes."
    )
    retention_spool: timedelta = Field(
        timedelta(days=7),
        description="Compacted spool segments (the only raw IPs) are deleted after this long; "
        "never less than the close grace.",
    )
    retention_lake: str = Field(
        "P25M",
        description="The lake's days (requests, actions, imported actions) of whole weeks and "
        "months older than this are deleted by `pullstats export` once it has exported the "
        "closed periods: years, months or days as P2Y, P25M or P760D; 0 keeps the lake for "
        "ever. Rollups and exports are kept.",
    )
    lake_url: str | None = Field(
        None,
        description="Where the lake is kept: s3://bucket/prefix (endpoint and credentials from "
        "the standard AWS_* variables) or a local folder; default: lake/ in the data dir.",
    )
    exports_url: str | None = Field(
        None,
        description="Where export files are kept: s3://bucket/prefix (downloads are then "
        "presigned S3 URLs) or a local folder; default: exports/ in the data dir.",
    )
    exports_public_endpoint_url: str | None = Field(
        None,
        description="The object store's address as publishers reach it, http(s)://host[:port]"
        "[/path]: presigned download URLs are signed for it instead of AWS_ENDPOINT_URL "
        "(which reads and writes keep using); only with exports on S3. Default: unset.",
    )
    s3_timeout: timedelta = Field(
        DEFAULT_TIMEOUT,
        ge=timedelta(seconds=1),
        le=timedelta(hours=1),
        description="How long a request to S3 waits for each read of its answer (per socket "
        "read, not per whole request); a request is sent at most twice, so a hung endpoint is "
        "reported within about twice this.",
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
        16 * 1024 * 1024, ge=1024, description="Largest notification envelope accepted, in bytes."
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
        64 * 1024 * 1024, ge=4096, description="A spool segment is closed past this size."
    )
    duckdb_memory_limit: str = Field(
        "1.5GB", description="memory_limit of every DuckDB connection."
    )
    duckdb_threads: int = Field(2, ge=1, le=1024, description="threads of every DuckDB connection.")
    engine: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description="What runs classification, rollups and exports (`process` after "
        "compaction, and `export`): `duckdb` in process, or `spark` (Apache Spark, PySpark; "
        "docs/spark.md). Compaction always runs on DuckDB.",
    )
    spark_master: str = Field(
        "local[*]",
        description="The Spark master of `PULLSTATS_ENGINE=spark` (local[*], spark://host:port, "
        "yarn, k8s://…); under spark-submit its --master wins, and this one is neither read "
        "nor checked.",
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
    password_checks: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 2) // 2),
        ge=1,
        description="Password checks (argon2id: tens of milliseconds of CPU and 64 MiB each) "
        "one server process runs at once; more wait their turn, so a flood of logins cannot "
        "take every core from the other routes. Default: half the CPU cores, at least 1.",
    )
    answer_cache_bytes: int = Field(
        256 * 1024 * 1024,
        ge=0,
        description="Bytes of API answers one server process keeps in memory to answer "
        "repeats; an answer larger than a 256th of it is not kept. 0 keeps none.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated IPs or CIDR networks of reverse proxies whose "
        "X-Forwarded-For is believed; empty: the socket's peer is the client.",
    )

    # -- several nodes on one catalog (docs/architecture.md, "Several nodes, one truth") -------
    node_name: str | None = Field(
        None,
        description="This node's name in the catalog (its spool's progress and watermark); "
        "default: the host name plus 4 random hex digits, made once and kept in the data dir.",
    )
    node_timeout: timedelta = Field(
        timedelta(hours=1),
        description="A node not seen for this long (no heartbeat, no process) no longer holds "
        "periods open; at least 1 minute.",
    )
    keys_dir: Path | None = Field(
        None,
        description="Where the keys live (ip-hash, JWT and download-link keys); every node of "
        "one installation must read the same keys. Default: the data dir's keys/.",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url_parses(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_database_url(value.get_secret_value())
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_absolute(cls, value: str | None) -> str | None:
        # a bare host would make relative download links and fail the sign-in's origin check
        if value is not None and value.strip():
            parts = urlsplit(value.strip())
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("expected an absolute http(s) URL, e.g. https://stats.example.com")
            # links are made by appending a path: a query or fragment would swallow it (and the
            # signature), and a user or password would go into every link handed out
            if "?" in value or "#" in value:
                raise ValueError("no query or fragment: links are this URL followed by a path")
            if "@" in parts.netloc:
                raise ValueError("no user or password in it: it is put in every link handed out")
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _allowed_hosts_are_hosts(cls, value: str | None) -> str | None:
        if value is not None:
            host_patterns(value)
        return value

    @property
    def allowed_host_patterns(self) -> list[str] | None:
        """``PULLSTATS_ALLOWED_HOSTS`` as Host patterns; None: any host."""
        return host_patterns(self.allowed_hosts) if self.allowed_hosts else None

    @field_validator("node_name")
    @classmethod
    def _node_name_valid(cls, value: str | None) -> str | None:
        if value is not None and not NODE_NAME.fullmatch(value):
            raise ValueError(
                "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator(
        "data_dir", "keys_dir", "geoip_country_db", "geoip_asn_db", "geoip_domain_db", mode="before"
    )
    @classmethod
    def _path_not_empty(cls, value: object) -> object:
        # Path("") is the working directory: the keys would be made wherever a command ran
        if isinstance(value, str) and not value.strip():
            raise ValueError("empty: name a path, or unset the variable for its default")
        return value

    @field_validator("keys_dir")
    @classmethod
    def _keys_dir_exists(cls, value: Path | None) -> Path | None:
        # a shared mount or a mounted secret: made by the operator, never created here
        if value is not None and not value.is_dir():
            raise ValueError("no such directory: mount or create the installation's keys there")
        return value

    @field_validator("retention_lake")
    @classmethod
    def _retention_parses(cls, value: str) -> str:
        parse_months_days(value)  # fail at start, not in the middle of a job
        return value

    @field_validator("lake_url", "exports_url")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        check_store_url(value)
        return value

    @field_validator("exports_public_endpoint_url")
    @classmethod
    def _public_endpoint(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "exports_url" in info.data:  # else PULLSTATS_EXPORTS_URL is refused on its own
            check_public_endpoint(value, info.data["exports_url"])
        else:
            public_endpoint(value)
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
        keys = self.keys_dir.resolve() if self.keys_dir is not None else None
        lake_here, exports_here = self.lake_url is None, self.exports_url is None
        return DataDir(self.data_dir.resolve(), keys, lake_here, exports_here)

    @cached_property
    def node(self) -> str:
        """This node's name: ``PULLSTATS_NODE_NAME``, else the one kept in the data dir."""
        return self.node_name or self.paths.node_name()

    @cached_property
    def lake(self) -> Store:
        """The lake's store (requests, actions, imported history, set-aside days, _meta.json)."""
        lake = self.paths.root / "lake"
        return open_store(self.lake_url, lake, "PULLSTATS_LAKE_URL", timeout=self.s3_timeout)

    @cached_property
    def exports_store(self) -> Store:
        """Where the export files are (their catalog rows hold keys relative to it)."""
        return open_store(
            self.exports_url,
            self.paths.exports,
            "PULLSTATS_EXPORTS_URL",
            public_endpoint(self.exports_public_endpoint_url),
            self.s3_timeout,
        )

    @cached_property
    def lake_retention(self) -> tuple[int, int]:
        """``PULLSTATS_RETENTION_LAKE`` as (months, days); (0, 0): kept for ever."""
        return parse_months_days(self.retention_lake)

    @property
    def database_url_value(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.paths.sqlite_catalog}"

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

    @field_validator(*DURATION_BOUNDS)
    @classmethod
    def _duration_bounded(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        check_duration(str(info.field_name), value)
        return value

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory_limit_not_negative(cls, value: str) -> str:
        # DuckDB reads "-5GB" as no limit at all
        if value.strip().startswith("-"):
            raise ValueError("must not be negative: a size such as 1.5GB, or a share such as 50%")
        return value

    @field_validator("schedule_interval", mode="before")
    @classmethod
    def _interval_seconds(cls, value: object) -> object:
        # "0" (off) and bare seconds are accepted here besides the ISO 8601 durations; a
        # negative number is read too, to be refused as negative below, not as no duration
        if isinstance(value, str) and value.strip().removeprefix("-").replace(".", "", 1).isdigit():
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
