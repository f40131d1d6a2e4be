"""Login JWTs (HS256, key generated into the data dir): issue and verify."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

LOGIN_AUDIENCE = "pullstats:api"
ALGORITHM = "HS256"
JWT_KEY = "jwt.key"


class InvalidToken(Exception):
    """A bearer token that is malformed, expired, tampered with or meant for something else."""


@dataclass(frozen=True)
class Claims:
    subject: str
    token_id: str
    expires: datetime


def issue(key: bytes, subject: str, ttl: timedelta, audience: str = LOGIN_AUDIENCE) -> str:
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": subject,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
        "aud": audience,
    }
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def verify(key: bytes, token: str, audience: str = LOGIN_AUDIENCE) -> Claims:
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": ["sub", "exp", "iat", "jti", "aud"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    return Claims(
        subject=str(payload["sub"]),
        token_id=str(payload["jti"]),
        expires=datetime.fromtimestamp(payload["exp"], UTC),
    )
