"""SQLAlchemy models of the catalog. Schema changes go through an Alembic migration."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: base32 TOTP secret while the second factor is on; it must be readable to check codes
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    #: the newest TOTP time-step accepted, so a code is never accepted twice
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    #: bumped by a trigger when ``disabled`` turns on (migration 0006); a JWT carries the one it
    #: was issued under (claim ``sgen``) and is refused once they differ, so re-enabling a user
    #: revives none of their old tokens
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Namespace(Base):
    __tablename__ = "namespaces"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Membership(Base):
    __tablename__ = "memberships"
    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))


class ExtraRepo(Base):
    """A repository outside the namespace whose analytics the namespace may read."""

    __tablename__ = "extra_repos"
    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True
    )
    repository: Mapped[str] = mapped_column(String(255), primary_key=True)  # "ns2/repo"


class IngestToken(Base):
    __tablename__ = "ingest_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PersonalAccessToken(Base):
    """A user's ``pst_<id>_<secret>`` token: logs in like a password, never asks for TOTP."""

    __tablename__ = "personal_access_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[str] = mapped_column(String(255))  # space-separated, e.g. "analytics:read"
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UsedTwoFactorToken(Base):
    """The jti of every spent ``login_2fa_token``, kept until the token would have expired."""

    __tablename__ = "used_2fa_tokens"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class RevokedSession(Base):
    """The jti of every login JWT ended by signing out (migration 0009), kept until the token
    would have expired; the token check refuses these (``accounts/access.py``)."""

    __tablename__ = "revoked_sessions"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SpoolProgress(Base):
    """How far compaction has read each spool segment (bytes), per node: each node's spool is
    its own (migration 0007; ``""`` is a segment recorded before, claimed by the node whose
    spool holds it)."""

    __tablename__ = "spool_progress"
    node: Mapped[str] = mapped_column(String(64), primary_key=True, server_default="")
    segment: Mapped[str] = mapped_column(String(128), primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)


class Node(Base):
    """A node of the installation: a data dir whose spool feeds the shared lake (migration 0007).

    A period closes only once every live node's ``watermark`` is past it; a node whose
    ``last_seen`` is older than ``PULLSTATS_NODE_TIMEOUT`` no longer holds it.
    """

    __tablename__ = "nodes"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    data_dir: Mapped[str] = mapped_column(String(1024))
    #: arrival time up to which this node's spool is compacted, classified and rolled up
    watermark: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: the last heartbeat of its server or the end of its last ``process``
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InstallationKey(Base):
    """A fingerprint of each key every node must share (never the key): a node whose keys
    differ is refused at start (migration 0007)."""

    __tablename__ = "installation_keys"
    ring: Mapped[str] = mapped_column(String(32), primary_key=True)  # ip-hash, jwt, download
    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PipelineState(Base):
    """Small named values of the pipeline: the processing watermark, the data generation."""

    __tablename__ = "pipeline_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RollupPeriod(Base):
    """A period that has rollups, and the generation they were written at."""

    __tablename__ = "rollup_periods"
    period_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PullRollup(Base):
    """Counts of one period at one level: namespace, repository or reference (tag/digest).

    ``repository`` is "" on namespace rows and ``reference`` is "" on namespace and repository
    rows; unique_ip_count is the exact distinct count at that level, never a sum, and so are the
    users: authenticated (distinct user hashes) and unauthenticated (distinct addresses of the
    actions without a user), counted from the lake only (migration 0011).
    """

    __tablename__ = "pull_rollups"
    period_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    level: Mapped[str] = mapped_column(String(10), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(255), primary_key=True)
    repository: Mapped[str] = mapped_column(String(255), primary_key=True)
    reference: Mapped[str] = mapped_column(String(255), primary_key=True)
    pull_by_tag: Mapped[int] = mapped_column(BigInteger)
    pull_by_digest: Mapped[int] = mapped_column(BigInteger)
    version_check: Mapped[int] = mapped_column(BigInteger)
    unique_ip_count: Mapped[int] = mapped_column(BigInteger)
    unique_authenticated_users: Mapped[int] = mapped_column(BigInteger, server_default="0")
    unique_unauthenticated_users: Mapped[int] = mapped_column(BigInteger, server_default="0")


class CountryRollup(Base):
    """Counts of one period per client country, at namespace or repository level.

    Feeds ``breakdown=country`` of the pull series. ``country`` is ISO 3166-1 alpha-2, or
    "ZZ" when unknown; ``repository`` is "" on namespace rows.
    """

    __tablename__ = "country_rollups"
    period_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    level: Mapped[str] = mapped_column(String(10), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(255), primary_key=True)
    repository: Mapped[str] = mapped_column(String(255), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    pull_by_tag: Mapped[int] = mapped_column(BigInteger)
    pull_by_digest: Mapped[int] = mapped_column(BigInteger)
    version_check: Mapped[int] = mapped_column(BigInteger)
    unique_ip_count: Mapped[int] = mapped_column(BigInteger)


class BreakdownRollup(Base):
    """Action counts of one period per client cloud provider, network type, or tool and
    version, at namespace or repository level (the dashboard's breakdowns).

    ``dimension`` is ``host``, ``type`` or ``tool_version``; ``value`` the host, type or tool
    ("" when unknown); ``version`` the tool's version on ``tool_version`` rows, else "".
    ``repository`` is "" on namespace rows. No distinct count (see rollups/breakdowns.sql).
    """

    __tablename__ = "breakdown_rollups"
    period_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    level: Mapped[str] = mapped_column(String(10), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(255), primary_key=True)
    repository: Mapped[str] = mapped_column(String(255), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[str] = mapped_column(String(255), primary_key=True)
    pull_by_tag: Mapped[int] = mapped_column(BigInteger)
    pull_by_digest: Mapped[int] = mapped_column(BigInteger)
    version_check: Mapped[int] = mapped_column(BigInteger)


class TrendRollup(Base):
    """Pulls and exact distinct users of one period per stored grouping (``grouped_by``:
    :mod:`pullstats.rollups.trends`) and set of client categories its users pulled with
    (``categories``, a bit per category: :func:`pullstats.client_categories.category_bit`):
    the trends route's rows, and at the grouping ``repo,tag,country,cloud,tool`` (where each
    row is one category's) Docker's Trends report.

    A dimension the grouping does not fill is ""; ``country`` is ISO 3166-1 alpha-2 or "ZZ",
    ``cloud`` "" outside a known cloud, ``tag`` "" for pulls by digest. Downloads are pulls by
    tag and by digest; the users are never summed across rows or periods.
    """

    __tablename__ = "trend_rollups"
    # on SQLite, rows kept once, in the key's order (migration 0015): written by the hundred
    # thousand, read by a prefix of the key
    __table_args__ = ({"sqlite_with_rowid": False},)
    period_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    grouped_by: Mapped[str] = mapped_column(String(64), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(255), primary_key=True)
    repository: Mapped[str] = mapped_column(String(255), primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    cloud: Mapped[str] = mapped_column(String(64), primary_key=True)
    tool: Mapped[str] = mapped_column(String(255), primary_key=True)
    category: Mapped[str] = mapped_column(String(16), primary_key=True)
    use_case: Mapped[str] = mapped_column(String(16), primary_key=True)
    categories: Mapped[int] = mapped_column(Integer, primary_key=True)
    data_downloads: Mapped[int] = mapped_column(BigInteger)
    version_checks: Mapped[int] = mapped_column(BigInteger)
    unique_authenticated_users: Mapped[int] = mapped_column(BigInteger)
    unique_unauthenticated_users: Mapped[int] = mapped_column(BigInteger)


class CoUsageRollup(Base):
    """Users of one period's repository who also pulled another repository (Docker's
    Technographic report): only pairs with at least ten such users (rollups/co_usage.py).

    ``users`` pulled both, ``total_users`` the repository; a user is a signed-in user or, for
    an anonymous pull, an address. Which pairs a namespace may see is decided at export.
    """

    __tablename__ = "co_usage_rollups"
    period_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(255), primary_key=True)
    repository: Mapped[str] = mapped_column(String(255), primary_key=True)
    paired_namespace: Mapped[str] = mapped_column(String(255), primary_key=True)
    paired_repository: Mapped[str] = mapped_column(String(255), primary_key=True)
    users: Mapped[int] = mapped_column(BigInteger)
    total_users: Mapped[int] = mapped_column(BigInteger)


class PublishedRepository(Base):
    """A repository the operator has made public (``pullstats repos publish``): other
    namespaces' co-usage reports may name it."""

    __tablename__ = "published_repositories"
    namespace: Mapped[str] = mapped_column(String(255), primary_key=True)
    repository: Mapped[str] = mapped_column(String(255), primary_key=True)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ExportPeriod(Base):
    """A (namespace, period) that has been exported, at which rollup generation."""

    __tablename__ = "export_periods"
    namespace: Mapped[str] = mapped_column(String(255), primary_key=True)
    period_kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)
    exported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ExportFile(Base):
    __tablename__ = "export_files"
    __table_args__ = (UniqueConstraint("namespace", "period_kind", "period_start", "view", "part"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(255))
    period_kind: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[date] = mapped_column(Date)
    view: Mapped[str] = mapped_column(String(24))
    part: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str] = mapped_column(String(512))
    path: Mapped[str] = mapped_column(String(1024))  # relative to the exports folder
    size: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
