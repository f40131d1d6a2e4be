"""Signed download URLs: HMAC over (file id, file checksum, expiry), so a link opens one file,
only until it expires, and only while that file's content is the one that was signed."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

DOWNLOAD_KEY = "download.key"


@dataclass(frozen=True)
class DownloadGrant:
    file_id: int
    expires: int
    signature: str

    def query(self) -> str:
        return f"expires={self.expires}&signature={self.signature}"


def _mac(key: bytes, file_id: int, sha256: str, expires: int) -> str:
    message = f"{file_id}:{sha256}:{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(key: bytes, file_id: int, sha256: str, lifetime_seconds: int) -> DownloadGrant:
    expires = int(time.time()) + lifetime_seconds
    return DownloadGrant(file_id, expires, _mac(key, file_id, sha256, expires))


def check(key: bytes, file_id: int, sha256: str, expires: int, signature: str) -> str | None:
    """None when the grant is valid, else why it is not (for the 403 message)."""
    if not hmac.compare_digest(_mac(key, file_id, sha256, expires), signature):
        return "invalid signature"
    if expires < time.time():
        return "link expired"
    return None
