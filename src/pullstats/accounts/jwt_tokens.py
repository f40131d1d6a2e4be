"""Login JWTs (HS256, keys generated into the data dir and rotated by ``pullstats keys
rotate``): issue and verify. The header's ``kid`` names the key (``signing_keys.py``); a token
without one is from before rotation existed and was signed with the first key.

Two kinds share the key and are told apart by their audience: the API token (``sub``, ``exp``,
``iat``, ``jti``, ``aud``, ``sgen`` and ``pat_id`` when a personal access token logged in) and
the short-lived ``login_2fa_token``, which only ``POST /v2/users/2fa-login`` accepts. ``sgen``
is the user's session generation at issue (``users disable`` bumps it; absent means 0).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from pullstats.signing_keys import FIRST_KID, KeyRing, SigningKey

LOGIN_AUDIENCE = "pullstats:api"
TWO_FACTOR_AUDIENCE = "pullstats:2fa-login"
TWO_FACTOR_TTL = timedelta(minutes=5)
ALGORITHM = "HS256"
JWT_KEY = "jwt.key"  # the first key, kid "0"
#: the name of the login JWTs' key ring in ``keys/``
JWT_KEYS = "jwt"


class InvalidToken(Exception):
    """A bearer token that is malformed, expired, tampered with or meant for something else."""


#: The time claims a token may carry: whole seconds from 1970 to the end of year 9999, the range
#: a ``datetime`` holds. PyJWT passes any JSON number that is not yet expired (``exp`` 1e20),
#: and turning that into a ``datetime`` was a 500.
_TIME_CLAIMS = ("exp", "iat", "nbf")
_LATEST_TIME = 253402300799  # 9999-12-31T23:59:59Z
#: A ``jti`` as the catalog keeps it (``String(64)``): letters, digits, ``-`` and ``_``.
_TOKEN_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


@dataclass(frozen=True)
class Claims:
    subject: str
    token_id: str
    expires: datetime
    pat_id: str | None = None
    #: ``iat``, seconds since the epoch
    issued_at: int = 0
    #: ``sgen``: the user's session generation when the token was issued
    session_generation: int = 0


def issue(
    key: bytes | SigningKey,
    subject: str,
    ttl: timedelta,
    audience: str = LOGIN_AUDIENCE,
    pat_id: str | None = None,
    session_generation: int = 0,
) -> str:
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": subject,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
        "aud": audience,
        "sgen": session_generation,
    }
    if pat_id is not None:
        payload["pat_id"] = pat_id
    if isinstance(key, bytes):
        return jwt.encode(payload, key, algorithm=ALGORITHM)
    return jwt.encode(payload, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid})


def _secret(keys: bytes | KeyRing, token: str) -> bytes:
    """The key the token's ``kid`` names, while that key still verifies."""
    if isinstance(keys, bytes):
        return keys
    try:
        kid = jwt.get_unverified_header(token).get("kid", FIRST_KID)
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    key = keys.verifying_key(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidToken("unknown or retired signing key")
    return key.secret


def _check_times(payload: dict[str, Any]) -> None:
    for name in _TIME_CLAIMS:
        value = payload.get(name)
        if value is None:
            continue
        # bool is an int to Python; a float must be whole (PyJWT issues ints, so do we)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidToken(f"the {name} claim is not a number")
        if value != value or not 0 <= value <= _LATEST_TIME or value != int(value):
            raise InvalidToken(f"the {name} claim is out of range")


def verify(keys: bytes | KeyRing, token: str, audience: str = LOGIN_AUDIENCE) -> Claims:
    key = _secret(keys, token)
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],  # pinned: a token cannot pick "none" or another algorithm
            audience=audience,
            options={"require": ["sub", "exp", "iat", "jti", "aud"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    _check_times(payload)
    pat_id = payload.get("pat_id")
    # looked up in the catalog too: a NUL in it was a 500 on PostgreSQL
    if pat_id is not None and (not isinstance(pat_id, str) or not _TOKEN_ID.fullmatch(pat_id)):
        raise InvalidToken("pat_id is not a token id")
    token_id = payload["jti"]
    # looked up in the catalog (spent 2FA tokens, signed-out sessions): what we issue (32 hex
    # digits) fits; a number, a NUL or a long string must be a 401, never a database error
    if not isinstance(token_id, str) or not _TOKEN_ID.fullmatch(token_id):
        raise InvalidToken("jti is not a token id")
    generation = payload.get("sgen", 0)
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise InvalidToken("sgen is not a whole number")
    return Claims(
        subject=str(payload["sub"]),
        token_id=token_id,
        expires=datetime.fromtimestamp(payload["exp"], UTC),
        pat_id=pat_id,
        issued_at=int(payload["iat"]),
        session_generation=generation,
    )
