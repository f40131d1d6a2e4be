"""What a signed-in user may read, checked on every API request.

Two small queries per request: one for the user (and the PAT a JWT came from, and whether the
JWT was signed out), one for the namespaces they belong to with those namespaces' extra repos.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from pullstats.accounts.tokens import SCOPES
from pullstats.db.models import (
    ExtraRepo,
    Membership,
    Namespace,
    PersonalAccessToken,
    RevokedSession,
    User,
)
from pullstats.timestamps import utc


@dataclass(frozen=True)
class Principal:
    """An active user, and the scopes of the login (all of them unless a PAT logged in)."""

    user_id: int
    name: str
    scopes: frozenset[str]
    #: when the personal access token behind the login expires, if it does
    expires: datetime | None = None


def active_principal(
    session: Session, user_id: int, pat_id: str | None, session_generation: int, token_id: str
) -> Principal | None:
    """The user if still enabled and not disabled since the token was issued (its
    ``session_generation`` is the user's), and, for a PAT's JWT, only while that PAT is live;
    never for a token (``token_id``, its ``jti``) that was signed out (``login.revoke_session``).
    """
    signed_out = exists().where(RevokedSession.jti == token_id).label("signed_out")
    if pat_id is None:
        user = session.execute(
            select(User.name, User.disabled, User.session_generation, signed_out).where(
                User.id == user_id
            )
        ).one_or_none()
        if user is None or user.disabled or user.signed_out:
            return None
        if user.session_generation != session_generation:
            return None
        return Principal(user_id, user.name, frozenset(SCOPES))
    row = session.execute(
        select(
            User.name,
            User.disabled,
            User.session_generation,
            PersonalAccessToken.scopes,
            PersonalAccessToken.expires_at,
            PersonalAccessToken.revoked_at,
            signed_out,
        )
        .join(PersonalAccessToken, PersonalAccessToken.user_id == User.id)
        .where(User.id == user_id, PersonalAccessToken.id == pat_id)
    ).one_or_none()
    if row is None or row.disabled or row.revoked_at is not None or row.signed_out:
        return None
    if row.session_generation != session_generation:
        return None
    expires = utc(row.expires_at) if row.expires_at is not None else None
    if expires is not None and expires <= datetime.now(UTC):
        return None
    return Principal(user_id, row.name, frozenset(row.scopes.split()), expires)


def readable_scope(session: Session, user_id: int) -> dict[str, tuple[str, ...]]:
    """Each namespace the user is a member of → its extra repos (``ns2/repo``), by name."""
    query = (
        select(Namespace.name, ExtraRepo.repository)
        .join(Membership, Membership.namespace_id == Namespace.id)
        .outerjoin(ExtraRepo, ExtraRepo.namespace_id == Namespace.id)
        .where(Membership.user_id == user_id)
        .order_by(Namespace.name, ExtraRepo.repository)
    )
    scope: dict[str, list[str]] = {}
    for namespace, repository in session.execute(query):
        repos = scope.setdefault(namespace, [])
        if repository is not None:
            repos.append(repository)
    return {namespace: tuple(repos) for namespace, repos in scope.items()}
