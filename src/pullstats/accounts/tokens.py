"""Personal access tokens ``pst_<id>_<secret>``: create, list, revoke, and check at login.

A PAT logs in like a password (never asking for TOTP); the JWTs it yields carry its id, and the
bearer check refuses them once the PAT is revoked or expired.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pullstats.accounts.errors import InvalidValue, NotFound
from pullstats.accounts.secrets import (
    BearerSecret,
    named_token,
    new_secret,
    not_named,
    parse_secret,
    secret_matches,
)
from pullstats.accounts.service import checked_label, get_user
from pullstats.db.models import PersonalAccessToken, User
from pullstats.timestamps import utc

PAT_PREFIX = "pst"
#: Every scope a PAT may hold. Password logins hold all of them.
SCOPES = ("analytics:read",)
DEFAULT_SCOPES = ("analytics:read",)


def is_live(token: PersonalAccessToken, now: datetime) -> bool:
    return token.revoked_at is None and (token.expires_at is None or utc(token.expires_at) > now)


@dataclass(frozen=True)
class PatInfo:
    """A PAT as the operator sees it (never its secret)."""

    id: str
    user: str
    label: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= datetime.now(UTC):
            return "expired"
        return "active"


def create_pat(
    session: Session,
    user: str,
    label: str,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    expires_at: datetime | None = None,
) -> BearerSecret:
    owner = get_user(session, user)
    label = checked_label(label, "a token label")
    chosen = tuple(dict.fromkeys(scopes)) or DEFAULT_SCOPES
    unknown = [scope for scope in chosen if scope not in SCOPES]
    if unknown:
        raise InvalidValue(f"unknown scope {unknown[0]!r}: one of {', '.join(SCOPES)}")
    now = datetime.now(UTC)
    if expires_at is not None and utc(expires_at) <= now:
        raise InvalidValue("the expiry must be in the future")
    secret = new_secret(PAT_PREFIX)
    session.add(
        PersonalAccessToken(
            id=secret.id,
            user_id=owner.id,
            label=label,
            scopes=" ".join(chosen),
            secret_sha256=secret.sha256,
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return secret


def list_pats(session: Session, user: str | None = None) -> list[PatInfo]:
    query = (
        select(PersonalAccessToken, User.name)
        .join(User, User.id == PersonalAccessToken.user_id)
        .order_by(User.name, PersonalAccessToken.created_at, PersonalAccessToken.id)
    )
    if user is not None:
        query = query.where(User.id == get_user(session, user).id)
    return [
        PatInfo(
            id=token.id,
            user=name,
            label=token.label,
            scopes=tuple(token.scopes.split()),
            created_at=utc(token.created_at),
            expires_at=utc(token.expires_at) if token.expires_at else None,
            last_used_at=utc(token.last_used_at) if token.last_used_at else None,
            revoked_at=utc(token.revoked_at) if token.revoked_at else None,
        )
        for token, name in session.execute(query)
    ]


def revoke_pat(session: Session, token_id: str) -> bool:
    """Revoke; False when it was already revoked. Every JWT it yielded stops working."""
    named = named_token(PAT_PREFIX, token_id)
    if named is None:
        raise NotFound(not_named(PAT_PREFIX, "personal access token", "pullstats tokens list"))
    token = session.get(PersonalAccessToken, named[0])
    if token is None:
        raise NotFound(f"no personal access token {named[1]}")
    if token.revoked_at is not None:
        return False
    token.revoked_at = datetime.now(UTC)
    return True


def authenticate_pat(session: Session, user: User | None, text: str) -> PersonalAccessToken | None:
    """The live PAT of ``user`` that ``text`` is, or None. Stamps its last use."""
    candidate = parse_secret(PAT_PREFIX, text)
    if candidate is None:
        return None
    token = session.get(PersonalAccessToken, candidate.id)
    now = datetime.now(UTC)
    if (
        token is None
        or not secret_matches(token.secret_sha256, candidate)
        or user is None
        or token.user_id != user.id
        or not is_live(token, now)
    ):
        return None
    token.last_used_at = now
    return token
