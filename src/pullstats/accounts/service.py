"""Account operations on a catalog session: users, namespaces, members, ingest tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pullstats.accounts.errors import AlreadyExists, InvalidName, NotFound
from pullstats.accounts.passwords import hash_password, verify_password
from pullstats.accounts.secrets import BearerSecret, new_secret, parse_secret, secret_matches
from pullstats.db.models import ExtraRepo, IngestToken, Membership, Namespace, User

ROLES = ("owner", "editor", "member")
INGEST_PREFIX = "psi"

_USER_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}", re.ASCII)
_NAMESPACE = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*", re.ASCII)


def _now() -> datetime:
    return datetime.now(UTC)


def create_user(
    session: Session, name: str, password: str | None, email: str | None = None
) -> User:
    if not _USER_NAME.fullmatch(name):
        raise InvalidName(f"invalid user name {name!r}: use a-z, 0-9, '.', '_', '-'")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise AlreadyExists(f"user {name!r} already exists")
    user = User(
        name=name,
        email=email,
        password_hash=hash_password(password) if password else None,
        disabled=False,
        created_at=_now(),
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def authenticate_password(session: Session, name: str, password: str) -> User | None:
    """The user whose password this is, or None; takes the same time for unknown users."""
    user = session.scalar(select(User).where(User.name == name))
    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or user.disabled:
        return None
    return user


def create_namespace(session: Session, name: str) -> Namespace:
    if not _NAMESPACE.fullmatch(name) or len(name) > 255:
        raise InvalidName(f"invalid namespace {name!r}")
    if session.scalar(select(Namespace).where(Namespace.name == name)) is not None:
        raise AlreadyExists(f"namespace {name!r} already exists")
    namespace = Namespace(name=name, created_at=_now())
    session.add(namespace)
    session.flush()
    return namespace


def get_namespace(session: Session, name: str) -> Namespace:
    namespace = session.scalar(select(Namespace).where(Namespace.name == name))
    if namespace is None:
        raise NotFound(f"no namespace {name!r}")
    return namespace


def registered_namespaces(session: Session) -> list[str]:
    return list(session.scalars(select(Namespace.name).order_by(Namespace.name)))


def add_member(session: Session, namespace: str, user: str, role: str) -> Membership:
    if role not in ROLES:
        raise InvalidName(f"invalid role {role!r}: one of {', '.join(ROLES)}")
    ns = get_namespace(session, namespace)
    member = get_user(session, user)
    existing = session.get(Membership, (ns.id, member.id))
    if existing is not None:
        existing.role = role
        return existing
    membership = Membership(namespace_id=ns.id, user_id=member.id, role=role)
    session.add(membership)
    return membership


def readable_namespaces(session: Session, user_id: int) -> list[str]:
    """Namespaces the user is a member of, by name."""
    query = (
        select(Namespace.name)
        .join(Membership, Membership.namespace_id == Namespace.id)
        .where(Membership.user_id == user_id)
        .order_by(Namespace.name)
    )
    return list(session.scalars(query))


def extra_repos(session: Session, namespace: str) -> list[str]:
    query = (
        select(ExtraRepo.repository)
        .join(Namespace, Namespace.id == ExtraRepo.namespace_id)
        .where(Namespace.name == namespace)
        .order_by(ExtraRepo.repository)
    )
    return list(session.scalars(query))


def create_ingest_token(session: Session, name: str) -> BearerSecret:
    secret = new_secret(INGEST_PREFIX)
    session.add(
        IngestToken(id=secret.id, name=name, secret_sha256=secret.sha256, created_at=_now())
    )
    return secret


def verify_ingest_token(session: Session, text: str) -> bool:
    candidate = parse_secret(INGEST_PREFIX, text)
    if candidate is None:
        return False
    token = session.get(IngestToken, candidate.id)
    return (
        token is not None
        and token.revoked_at is None
        and secret_matches(token.secret_sha256, candidate)
    )
