"""A user's password changed: by the user, who gives the current one (the dashboard's account
page), or set by an operator for a user who forgot it or never had one (``pullstats users
password``). Either way every session and API token issued before ends.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from pullstats.accounts.password_policy import check_new_password
from pullstats.accounts.passwords import hash_password, verify_password
from pullstats.accounts.service import get_user
from pullstats.db.models import User
from pullstats.db.state import bump_accounts_epoch


def change_password(session: Session, name: str, old: str, new: str) -> int | None:
    """Set ``name``'s password to ``new`` when ``old`` is the current one; None when it is not.

    ``new`` must pass the password policy (:class:`InvalidValue` otherwise). Returns the new
    session generation (:func:`_replace`), for the caller to go on with a fresh session of its
    own.
    """
    user = get_user(session, name)
    if user.password_hash is None or not verify_password(user.password_hash, old):
        return None
    check_new_password(new, user.name, user.email)
    return _replace(session, user, new)


def set_password(session: Session, name: str, new: str) -> bool:
    """Set ``name``'s password to ``new`` without asking for the current one (an operator's
    reset); whether the user had one before. ``new`` must pass the password policy
    (:class:`InvalidValue` otherwise); TOTP, personal access tokens and a disabled state are
    left as they are."""
    user = get_user(session, name)
    check_new_password(new, user.name, user.email)
    had = user.password_hash is not None
    _replace(session, user, new)
    return had


def _replace(session: Session, user: User, new: str) -> int:
    """Store ``new``'s hash and end every session and API token issued before: the user's
    session generation is bumped, which the tokens carry (``accounts/access.py``). The new
    generation."""
    user.password_hash = hash_password(new)
    user.session_generation += 1
    session.flush()
    # session_generation is not among the columns whose update bumps the epoch (migration
    # 0004): without this, servers would serve the old tokens from their caches
    bump_accounts_epoch(session)
    return user.session_generation
