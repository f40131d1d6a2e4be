"""Account operations on a catalog session: users, namespaces, members, extra repos, ingest tokens.

Personal access tokens live in ``tokens.py``, TOTP in ``totp.py``, the login flow in
``login.py`` and what a signed-in user may read in ``access.py``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pullstats.accounts.errors import AlreadyExists, InvalidName, InvalidValue, NotFound
from pullstats.accounts.passwords import hash_password
from pullstats.accounts.secrets import (
    BearerSecret,
    named_token,
    new_secret,
    not_named,
    parse_secret,
    secret_matches,
)
from pullstats.db.models import ExportPeriod, ExtraRepo, IngestToken, Membership, Namespace, User
from pullstats.names import namespace_problem, repository_problem, shown

ROLES = ("owner", "editor", "member")
INGEST_PREFIX = "psi"

_USER_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}", re.ASCII)


def _now() -> datetime:
    return datetime.now(UTC)


def is_user_name(name: str) -> bool:
    """Whether ``name`` may name an account: 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a
    letter or digit (so no NUL, which PostgreSQL refuses in a text parameter)."""
    return _USER_NAME.fullmatch(name) is not None


def create_user(
    session: Session, name: str, password: str | None, email: str | None = None
) -> User:
    if not is_user_name(name):
        raise InvalidName(
            f"invalid user name {name!r}: use 1 to 64 of a-z, 0-9, '.', '_', '-', starting with "
            "a letter or digit"
        )
    if email is not None:
        email = checked_email(email, "an e-mail address")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise AlreadyExists(f"user {name!r} already exists")
    user = User(
        name=name,
        email=email,
        password_hash=hash_password(password) if password else None,
        disabled=False,
        created_at=_now(),
    )
    _insert(session, user, f"user {name!r} already exists")
    return user


def _insert(session: Session, row: User | Namespace, taken: str) -> None:
    """Insert a user or namespace whose name was free when looked up; another transaction that
    took it since (a password's hash takes a while) fails the name's unique constraint, the only
    one such a row has, and that is AlreadyExists too. The transaction cannot go on then: its
    caller rolls it back (no savepoint: under SQLite's driver one that opens the transaction
    commits its row when released, whatever the caller does next)."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise AlreadyExists(taken) from None


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def set_user_disabled(session: Session, name: str, disabled: bool) -> bool:
    """Disable (or re-enable) a user; False when nothing changed.

    A disabled user cannot log in, and every JWT already issued to them stops working for good:
    the bearer check reads ``disabled`` on each request, and disabling bumps the user's session
    generation (a database trigger, migration 0006), which every older token carries a smaller
    value of, so ``users enable`` revives none of them.
    """
    user = get_user(session, name)
    changed = user.disabled != disabled
    user.disabled = disabled
    return changed


@dataclass(frozen=True)
class UserInfo:
    name: str
    email: str | None
    disabled: bool
    totp: bool
    namespaces: tuple[str, ...]


def list_users(session: Session) -> list[UserInfo]:
    users = list(session.scalars(select(User).order_by(User.name)))
    return [
        UserInfo(
            user.name,
            user.email,
            user.disabled,
            user.totp_secret is not None,
            tuple(readable_namespaces(session, user.id)),
        )
        for user in users
    ]


def _check_namespace(name: str) -> None:
    """Refuse a name no namespace can have, before looking it up (pullstats.names)."""
    problem = namespace_problem(name)
    if problem:
        raise InvalidName(problem)


def create_namespace(session: Session, name: str) -> Namespace:
    _check_namespace(name)
    if session.scalar(select(Namespace).where(Namespace.name == name)) is not None:
        raise AlreadyExists(f"namespace {name!r} already exists")
    namespace = Namespace(name=name, created_at=_now())
    _insert(session, namespace, f"namespace {name!r} already exists")
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
    _check_namespace(namespace)
    ns = get_namespace(session, namespace)
    member = get_user(session, user)
    existing = session.get(Membership, (ns.id, member.id))
    if existing is not None:
        existing.role = role
        return existing
    membership = Membership(namespace_id=ns.id, user_id=member.id, role=role)
    session.add(membership)
    return membership


def remove_member(session: Session, namespace: str, user: str) -> None:
    ns = get_namespace(session, namespace)
    member = get_user(session, user)
    membership = session.get(Membership, (ns.id, member.id))
    if membership is None:
        raise NotFound(f"{user!r} is not a member of {namespace!r}")
    session.delete(membership)


@dataclass(frozen=True)
class NamespaceInfo:
    name: str
    members: int
    extra_repos: tuple[str, ...]


def list_namespaces(session: Session) -> list[NamespaceInfo]:
    query = select(Membership.namespace_id, func.count()).group_by(Membership.namespace_id)
    counts = {namespace_id: count for namespace_id, count in session.execute(query)}
    return [
        NamespaceInfo(ns.name, counts.get(ns.id, 0), tuple(extra_repos(session, ns.name)))
        for ns in session.scalars(select(Namespace).order_by(Namespace.name))
    ]


def qualified_repository(name: str) -> tuple[str, str]:
    """``namespace/repository`` as its namespace and repository; :class:`InvalidName` when it
    is not a repository name with its namespace."""
    problem = repository_problem(name)
    if problem:
        raise InvalidName(problem)
    if "/" not in name:  # a name of the grammar, without its namespace
        raise InvalidName(f"invalid repository {shown(name)}: write it as namespace/repository")
    namespace, _, repository = name.partition("/")
    return namespace, repository


def add_extra_repo(session: Session, namespace: str, repository: str) -> bool:
    """Let ``namespace`` read ``ns2/repo``; False when it already could."""
    _check_namespace(namespace)
    qualified_repository(repository)
    ns = get_namespace(session, namespace)
    if repository.split("/", 1)[0] == namespace:
        raise InvalidValue(f"{repository!r} is already in {namespace!r}: it needs no extra grant")
    if session.get(ExtraRepo, (ns.id, repository)) is not None:
        return False
    session.add(ExtraRepo(namespace_id=ns.id, repository=repository))
    exports_again(session, namespace)
    return True


def remove_extra_repo(session: Session, namespace: str, repository: str) -> None:
    ns = get_namespace(session, namespace)
    extra = session.get(ExtraRepo, (ns.id, repository))
    if extra is None:
        raise NotFound(f"{repository!r} is not an extra repo of {namespace!r}")
    session.delete(extra)
    exports_again(session, namespace)  # they hold its extra repos' rows


def exports_again(session: Session, namespace: str | None = None) -> None:
    """Every exported period of ``namespace`` (of every namespace when None) is older than any
    rollup, so the next ``pullstats export`` writes it again (or withdraws it when nothing of
    the namespace's is left in it)."""
    query = update(ExportPeriod).values(generation=-1)
    if namespace is not None:
        query = query.where(ExportPeriod.namespace == namespace)
    session.execute(query)


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


#: Unicode categories a label may not hold: control characters (a newline would forge a row
#: of ``tokens list``), and line and paragraph separators.
_NOT_IN_LABELS = {"Cc", "Zl", "Zp"}
#: Nor the marks and overrides of text direction, which show a label other than it is
#: (``abc`` U+202E ``dcba.exe`` reads "abcexe.abcd").
_DIRECTION_MARKS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def checked_label(text: str, what: str) -> str:
    """``text`` without surrounding spaces, as a label shown in lists and tables; refused
    (:class:`InvalidValue`, naming ``what``) unless 1 to 128 characters, none of them a control
    character, a line separator or a mark of text direction."""
    label = text.strip()
    if not label or len(label) > 128:
        raise InvalidValue(f"{what} must be 1 to 128 characters, not only spaces")
    if any(
        unicodedata.category(char) in _NOT_IN_LABELS or char in _DIRECTION_MARKS for char in label
    ):
        raise InvalidValue(
            f"{what} must not hold a control character (a newline, a tab, a change of text "
            "direction, …)"
        )
    return label


#: The longest address: an SMTP path is at most 256 octets with its angle brackets (RFC 5321,
#: 4.5.3.1.3), so no longer address can be mailed to, though the column holds 320 characters
MAX_EMAIL_BYTES = 254


def checked_email(text: str, what: str) -> str:
    """``text`` without surrounding spaces, as an account's address; refused
    (:class:`InvalidValue`, naming ``what``) when it holds a space or a character a label may
    not (it is a column of ``users list``: a newline would forge a row, a space split one), is
    longer than :data:`MAX_EMAIL_BYTES` in UTF-8, or is not ``name@domain``."""
    email = text.strip()
    if any(
        char.isspace() or unicodedata.category(char) in _NOT_IN_LABELS or char in _DIRECTION_MARKS
        for char in email
    ):
        raise InvalidValue(
            f"{what} must not hold a space or a control character (a newline, a tab, a change "
            "of text direction, …)"
        )
    size = len(email.encode())
    if size > MAX_EMAIL_BYTES:
        raise InvalidValue(
            f"{what} is {size} bytes long: an address is at most {MAX_EMAIL_BYTES} (the longest "
            "an SMTP path carries, RFC 5321)"
        )
    name, at, domain = email.rpartition("@")
    quoted = len(name) > 1 and name.startswith('"') and name.endswith('"')
    if not (name and at and domain) or ("@" in name and not quoted):
        # an @ before the last is an address only inside quotes ("a@b"@c, RFC 5321)
        raise InvalidValue(f"{what} must be an address, name@domain")
    return email


def create_ingest_token(session: Session, name: str) -> BearerSecret:
    name = checked_label(name, "an ingest token's name")
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


@dataclass(frozen=True)
class IngestTokenInfo:
    id: str
    name: str
    created_at: datetime
    revoked: bool


def list_ingest_tokens(session: Session) -> list[IngestTokenInfo]:
    query = select(IngestToken).order_by(IngestToken.created_at, IngestToken.id)
    return [
        IngestTokenInfo(token.id, token.name, token.created_at, token.revoked_at is not None)
        for token in session.scalars(query)
    ]


def revoke_ingest_token(session: Session, token_id: str) -> bool:
    """Revoke; False when it was already revoked."""
    named = named_token(INGEST_PREFIX, token_id)
    if named is None:
        raise NotFound(not_named(INGEST_PREFIX, "ingest token", "pullstats ingest-tokens list"))
    token = session.get(IngestToken, named[0])
    if token is None:
        raise NotFound(f"no ingest token {named[1]}")
    if token.revoked_at is not None:
        return False
    token.revoked_at = _now()
    return True
