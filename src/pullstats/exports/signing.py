"""Signed download URLs: HMAC over (file id, file checksum, expiry), so a link opens one file,
only until it expires, and only while that file's content is the one that was signed.

The link's ``kid`` names the key that signed it (``signing_keys.py``, ring ``download``); a link
without one is from before rotation existed and was signed with the first key.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from pullstats.signing_keys import FIRST_KID, SigningKey

DOWNLOAD_KEY = "download.key"  # the first key, kid "0"
#: the name of the download links' key ring in ``keys/``
DOWNLOAD_KEYS = "download"


@dataclass(frozen=True)
class DownloadGrant:
    file_id: int
    expires: int
    signature: str
    kid: str = FIRST_KID

    def query(self) -> str:
        return f"expires={self.expires}&signature={self.signature}&kid={self.kid}"


def _mac(key: bytes, file_id: int, sha256: str, expires: int) -> str:
    message = f"{file_id}:{sha256}:{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(
    key: bytes | SigningKey, file_id: int, sha256: str, lifetime_seconds: int
) -> DownloadGrant:
    expires = int(time.time()) + lifetime_seconds
    if isinstance(key, bytes):
        return DownloadGrant(file_id, expires, _mac(key, file_id, sha256, expires))
    return DownloadGrant(file_id, expires, _mac(key.secret, file_id, sha256, expires), key.kid)


def check(key: bytes, file_id: int, sha256: str, expires: int, signature: str) -> str | None:
    """None when the grant is valid, else why it is not (for the 403 message)."""
    if not hmac.compare_digest(_mac(key, file_id, sha256, expires), signature):
        return "invalid signature"
    if expires < time.time():
        return "link expired"
    return None
