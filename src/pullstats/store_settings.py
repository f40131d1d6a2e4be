"""The settings of the stores: what ``PULLSTATS_LAKE_URL``, ``PULLSTATS_EXPORTS_URL`` and
``PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL`` may be, the store each names (:func:`open_store`), and
the download-link lifetime presigned S3 URLs can give. :mod:`pullstats.config` declares the
settings and calls these, which import nothing of it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from pullstats.s3_store import DEFAULT_TIMEOUT, S3Store
from pullstats.setting_values import SettingRefused, duration_text
from pullstats.storage import LocalStore, StorageError, Store

_SHAPE = "http(s)://host[:port][/path]"


def open_store(
    url: str | None,
    default: Path,
    setting: str,
    presign_endpoint: str | None = None,
    timeout: timedelta = DEFAULT_TIMEOUT,
) -> Store:
    """The store a ``PULLSTATS_*_URL`` setting names: ``s3://bucket/prefix``, a local folder,
    or (unset) ``default``; an S3 store presigns its download URLs for ``presign_endpoint``
    when given (else for ``AWS_ENDPOINT_URL``, as it reads and writes), and waits at most
    ``timeout`` (``PULLSTATS_S3_TIMEOUT``) for each read of an answer."""
    if url is None or not url.strip():
        return LocalStore(default, setting)
    url = url.strip()
    if url.startswith("s3://"):
        return S3Store(url, setting, presign_endpoint, timeout)
    if "://" in url:
        raise StorageError(f"{setting}={url}: expected s3://bucket/prefix or a local folder")
    return LocalStore(Path(url).expanduser().resolve(), setting)


def check_store_url(value: str | None) -> None:
    """Refuse a ``PULLSTATS_LAKE_URL`` or ``PULLSTATS_EXPORTS_URL`` that names no store. An
    empty one is refused too, as an empty path setting is, rather than taken as unset: a node
    whose ``s3://`` value was lost on the way (``PULLSTATS_LAKE_URL=$LAKE`` with no ``LAKE``)
    would otherwise use a lake of its own in its data dir."""
    if value is not None:
        text = value.strip()
        if not text:
            raise ValueError(
                "empty: name s3://bucket/prefix or a local folder, or unset the variable for "
                "its default (in the data dir)"
            )
        if "://" in text and not text.startswith("s3://"):
            raise ValueError("expected s3://bucket/prefix or a local folder")
        if text.startswith("s3://") and not text.removeprefix("s3://").strip("/"):
            raise ValueError("no bucket named: expected s3://bucket/prefix")
        if text.startswith("s3://"):
            _check_s3_path(text.removeprefix("s3://"))


def _check_s3_path(path: str) -> None:
    # an object key takes "?", "#" and ".." literally (x?y=1/_meta.json): never what was meant,
    # and another program's reading of the same URL would differ
    if "?" in path or "#" in path:
        raise ValueError("an s3:// URL has no query or fragment: expected s3://bucket/prefix")
    if any(part in (".", "..") for part in path.split("/")):
        raise ValueError("no . or .. in an s3:// URL: name the prefix itself, s3://bucket/prefix")


def on_object_storage(url: str | None) -> bool:
    """Whether a store URL setting (``PULLSTATS_EXPORTS_URL``) names an S3 prefix."""
    return url is not None and url.strip().startswith("s3://")


def public_endpoint(value: str | None) -> str | None:
    """``PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL`` as presigned URLs are signed for (no trailing
    ``/``), None when unset or empty; ValueError saying what is wrong with it.

    It takes the place of ``AWS_ENDPOINT_URL`` for presigning alone: SigV4 signs the host (and
    the path), so a URL must be signed for the address its user fetches it from."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if any(character.isspace() or not character.isprintable() for character in text):
        raise ValueError(f"no spaces or control characters: expected {_SHAPE}")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"expected the http(s) URL publishers reach the object store at: {_SHAPE}, "
            "e.g. https://s3.example.com"
        )
    if "?" in text or "#" in text:
        raise ValueError(f"no query or fragment: expected {_SHAPE} (a signature is the query)")
    if "@" in parts.netloc:
        raise ValueError(
            "no user or password in it: presigned URLs are signed with the AWS credentials "
            "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
        )
    try:
        port = parts.port  # urlsplit checks a port only when it is asked for
    except ValueError:
        port = 0
    if port == 0 or parts.netloc.endswith(":"):
        raise ValueError(f"its port is not a number from 1 to 65535: expected {_SHAPE}")
    if ";" in text:
        raise ValueError(f"no ';' parameters: expected {_SHAPE} (they would not be signed)")
    # the host as botocore takes an endpoint's (letters, digits, dots and hyphens, or an IPv6
    # literal): one it refuses would fail every link, blaming AWS_ENDPOINT_URL
    import botocore.utils  # type: ignore[import-untyped]

    base = f"{parts.scheme}://{parts.netloc}"
    if not (
        botocore.utils.is_valid_endpoint_url(base)
        or botocore.utils.is_valid_ipv6_endpoint_url(base)
    ):
        raise ValueError(f"{parts.hostname!r} is not a host name or address: expected {_SHAPE}")
    return text.rstrip("/")


def check_public_endpoint(value: str | None, exports_url: str | None) -> None:
    """Refuse a public endpoint that is no URL, or one set while the exports are not on
    object storage: no link would use it, and a node that lost its ``PULLSTATS_EXPORTS_URL``
    would otherwise write its exports to its own disk unnoticed."""
    if public_endpoint(value) is not None and not on_object_storage(exports_url):
        raise ValueError(
            "used only for the presigned URLs of exports on object storage, and "
            "PULLSTATS_EXPORTS_URL names none (the exports are local files, their links served "
            "by pullstats): set PULLSTATS_EXPORTS_URL=s3://bucket/prefix, or unset this one"
        )


#: The longest a presigned S3 link can live (SigV4): downloads from S3 exports live no longer.
MAX_PRESIGNED = timedelta(days=7)


def check_link_lifetime(lifetime: timedelta, exports_url: str | None) -> None:
    """Refuse a download-link lifetime that S3 exports cannot give (their links are presigned
    URLs, which S3 refuses past 7 days), with one line naming the setting."""
    if on_object_storage(exports_url) and lifetime > MAX_PRESIGNED:
        raise SettingRefused(
            "PULLSTATS_DOWNLOAD_LINK_LIFETIME",
            duration_text(lifetime),
            f"at most 7 days (P7D) with exports on object storage ({exports_url}): "
            "their download links are presigned S3 URLs, which live no longer",
        )
