"""The settings of the stores: what ``PULLSTATS_LAKE_URL`` and ``PULLSTATS_EXPORTS_URL`` may
be, the store each names (:func:`open_store`), and the download-link lifetime presigned S3 URLs
can give. :mod:`pullstats.config` declares the settings and calls these, which import nothing
of it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pullstats.s3_store import S3Store
from pullstats.setting_values import SettingRefused
from pullstats.storage import LocalStore, StorageError, Store


def open_store(url: str | None, default: Path, setting: str) -> Store:
    """The store a ``PULLSTATS_*_URL`` setting names: ``s3://bucket/prefix``, a local folder,
    or (unset) ``default``."""
    if url is None or not url.strip():
        return LocalStore(default, setting)
    url = url.strip()
    if url.startswith("s3://"):
        return S3Store(url, setting)
    if "://" in url:
        raise StorageError(f"{setting}={url}: expected s3://bucket/prefix or a local folder")
    return LocalStore(Path(url).expanduser().resolve(), setting)


def check_store_url(value: str | None) -> None:
    """Refuse a ``PULLSTATS_LAKE_URL`` or ``PULLSTATS_EXPORTS_URL`` that names no store."""
    if value is not None and value.strip():
        text = value.strip()
        if "://" in text and not text.startswith("s3://"):
            raise ValueError("expected s3://bucket/prefix or a local folder")
        if text.startswith("s3://") and not text.removeprefix("s3://").strip("/"):
            raise ValueError("no bucket named: expected s3://bucket/prefix")


#: The longest a presigned S3 link can live (SigV4): downloads from S3 exports live no longer.
MAX_PRESIGNED = timedelta(days=7)


def check_link_lifetime(lifetime: timedelta, exports: Store, exports_url: str | None) -> None:
    """Refuse a download-link lifetime that S3 exports cannot give (their links are presigned
    URLs, which S3 refuses past 7 days), with one line naming the setting."""
    if exports.local_path("") is None and lifetime > MAX_PRESIGNED:
        whole_days = lifetime % timedelta(days=1) == timedelta(0)
        shown = f"P{lifetime.days}D" if whole_days else f"PT{int(lifetime.total_seconds())}S"
        raise SettingRefused(
            "PULLSTATS_DOWNLOAD_LINK_LIFETIME",
            shown,
            f"at most 7 days (P7D) with exports on object storage ({exports_url}): "
            "their download links are presigned S3 URLs, which live no longer",
        )
