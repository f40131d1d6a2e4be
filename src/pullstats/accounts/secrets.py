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


#: What an operator may give to name a token: its id alone, or the whole token (whose secret
#: need not be right: the id names it), with any spaces or line ends around it
_NAMED = re.compile(r"([a-z]+)_([0-9a-f]{16})(?:_.*)?|([0-9a-f]{16})", re.DOTALL)


def named_token(prefix: str, text: str) -> tuple[str, str] | None:
    """The id of the ``prefix`` token ``text`` names, and how a message shows it (never with a
    secret: ``pst_<id>_…``); None when ``text`` names no such token."""
    match = _NAMED.fullmatch(text.strip())
    if match is None:
        return None
    given, token_id, bare = match.groups()
    if bare is not None:
        return bare, bare
    if given != prefix:
        return None
    return token_id, f"{prefix}_{token_id}_…"


def not_named(prefix: str, what: str, command: str) -> str:
    """What a command says of a value that names no token, without showing it."""
    return (
        f"no {what}: give its id (16 hex digits, as `{command}` shows it) or the whole token "
        f"({prefix}_<id>_<secret>); what was given is not shown, as it may be a secret"
    )


def secret_matches(stored_sha256: str, candidate: BearerSecret) -> bool:
    return hmac.compare_digest(stored_sha256, candidate.sha256)
