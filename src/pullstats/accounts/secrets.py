"""Bearer secrets of the form ``<prefix>_<id>_<secret>``: looked up by id, checked by SHA-256.

argon2 on every ingest request would cap a registry at a few events per second, and these
secrets are long random strings, so a plain SHA-256 of the secret is the right strength.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class BearerSecret:
    prefix: str
    id: str
    secret: str

    @property
    def text(self) -> str:
        return f"{self.prefix}_{self.id}_{self.secret}"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.secret.encode()).hexdigest()


def new_secret(prefix: str) -> BearerSecret:
    return BearerSecret(prefix, secrets.token_hex(8), secrets.token_urlsafe(32))


def parse_secret(prefix: str, text: str) -> BearerSecret | None:
    match = re.fullmatch(rf"{prefix}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{20,128}})", text)
    return BearerSecret(prefix, match.group(1), match.group(2)) if match else None


def secret_matches(stored_sha256: str, candidate: BearerSecret) -> bool:
    return hmac.compare_digest(stored_sha256, candidate.sha256)
