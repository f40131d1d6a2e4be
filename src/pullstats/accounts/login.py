"""The login flow of ``/v2/users/login`` and ``/v2/users/2fa-login``, and the dashboard's
sign-out, without HTTP.

A failed login always spends one argon2 verification (a dummy hash when the user does not
exist, and a PAT-shaped secret that is not a live PAT is tried as a password too), so its
duration does not tell whether the account exists. A name no account can have is looked up
nowhere (:func:`user_named`) and fails the same way, dummy hash and all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pullstats.accounts.passwords import verify_password
from pullstats.accounts.secrets import parse_secret
from pullstats.accounts.service import is_user_name
from pullstats.accounts.tokens import PAT_PREFIX, authenticate_pat
from pullstats.accounts.totp import accept_code
from pullstats.db.models import RevokedSession, UsedTwoFactorToken, User


@dataclass(frozen=True)
class LoginOutcome:
    """Who logged in; ``needs_second_factor`` means no API token yet, only a 2FA token."""

    user_id: int
    pat_id: str | None
    needs_second_factor: bool
    #: the user's session generation, which the JWT carries (``sgen``)
    session_generation: int = 0


def user_named(session: Session, name: str) -> User | None:
    """The user called ``name``; None without asking the catalog when no account could have
    that name (:func:`service.is_user_name`, the rule ``create_user`` keeps).

    Such a name was looked up all the same, and one with a NUL failed the query, PostgreSQL
    refusing a NUL in any text parameter: a login with ``"pguser\\u0000"`` was a 500 on
    PostgreSQL where SQLite said 401.
    """
    if not is_user_name(name):
        return None
    return session.scalar(select(User).where(User.name == name))


def authenticate(session: Session, name: str, secret: str) -> LoginOutcome | None:
    """Check a password or personal access token for ``name``; None when it fails."""
    return authenticate_token(session, name, secret) or authenticate_password(session, name, secret)


def looks_like_token(secret: str) -> bool:
    """Whether ``secret`` has a personal access token's shape (no database read)."""
    return parse_secret(PAT_PREFIX, secret) is not None


def authenticate_token(session: Session, name: str, secret: str) -> LoginOutcome | None:
    """The login of ``secret`` as a live personal access token of ``name`` (a SHA-256, no
    argon2); None when it is none, and then :func:`authenticate_password` decides."""
    if not looks_like_token(secret):
        return None
    user = user_named(session, name)
    token = authenticate_pat(session, user, secret)
    if token is not None and user is not None and not user.disabled:
        return LoginOutcome(user.id, token.id, False, user.session_generation)
    return None


def authenticate_password(session: Session, name: str, secret: str) -> LoginOutcome | None:
    """The login of ``secret`` as ``name``'s password: one argon2 verification, also when the
    user does not exist or ``name`` can be no user's (a dummy hash); None when it fails."""
    user = user_named(session, name)
    valid = verify_password(user.password_hash if user else None, secret)
    if user is None or not valid or user.disabled:
        return None
    return LoginOutcome(user.id, None, user.totp_secret is not None, user.session_generation)


def spend_two_factor_token(sessions: sessionmaker[Session], jti: str, expires: datetime) -> bool:
    """Record a 2FA token as used; False when it already was (a replay).

    The primary key on ``jti`` makes this atomic across requests and worker processes. Rows
    of tokens that have expired anyway are dropped on the way.
    """
    now = datetime.now(UTC)
    try:
        with sessions.begin() as session:
            session.execute(delete(UsedTwoFactorToken).where(UsedTwoFactorToken.expires_at < now))
            session.add(UsedTwoFactorToken(jti=jti, expires_at=expires))
    except IntegrityError:
        return False
    return True


def second_factor(session: Session, user_id: int, code: str, session_generation: int) -> bool:
    """True when ``code`` is a fresh TOTP code of an active user who has TOTP on, and the user
    was not disabled since the login_2fa_token was issued (``session_generation``)."""
    user = session.get(User, user_id)
    if user is None or user.disabled or user.totp_secret is None:
        return False
    if user.session_generation != session_generation:
        return False
    return accept_code(session, user, code)


def revoke_session(sessions: sessionmaker[Session], jti: str, expires: datetime) -> None:
    """End the login JWT ``jti`` for good: the token check refuses it from now on, on every
    server (``access.active_principal``; the insert bumps the accounts epoch, migration 0009).

    Kept until the token would have expired (``expires``); rows past that are dropped on the
    way, so the table holds only the sign-outs of one JWT lifetime. Revoking a token twice
    (two sign-outs of one session racing) is no error.
    """
    now = datetime.now(UTC)
    try:
        with sessions.begin() as session:
            session.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))
            if session.get(RevokedSession, jti) is None:
                session.add(RevokedSession(jti=jti, expires_at=expires))
    except IntegrityError:
        pass  # a concurrent sign-out of the same session recorded it first
