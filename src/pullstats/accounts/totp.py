"""TOTP second factor (RFC 6238 via pyotp): enrol, remove, and accept each code only once."""

from __future__ import annotations

import time

import pyotp
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from pullstats.accounts.errors import AccountError
from pullstats.accounts.service import get_user
from pullstats.db.models import User

ISSUER = "pullstats"
#: Codes of the neighbouring 30-second steps are accepted too: phones' clocks drift.
VALID_WINDOW = 1


def enable_totp(session: Session, name: str) -> str:
    """Turn TOTP on for ``name`` with a new secret; returns the ``otpauth://`` URI to enrol."""
    user = get_user(session, name)
    if user.totp_secret is not None:
        # silently replacing the secret would lock out the authenticator already enrolled
        raise AccountError(f"TOTP is already on for {name!r}: 'users totp disable' it first")
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=name, issuer_name=ISSUER)


def disable_totp(session: Session, name: str) -> bool:
    """Turn TOTP off; False when it was not on."""
    user = get_user(session, name)
    was_on = user.totp_secret is not None
    user.totp_secret = None
    user.totp_last_step = None
    return was_on


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The 30-second time-step whose code ``code`` is (within the window), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    moment = time.time() if now is None else now
    current = totp.timecode(moment)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def accept_code(session: Session, user: User, code: str) -> bool:
    """True once per code: the step must be newer than the last accepted one.

    The check and the record are one conditional UPDATE, so two requests racing with the same
    code cannot both win.
    """
    if user.totp_secret is None:
        return False
    step = matching_step(user.totp_secret, code)
    if step is None:
        return False
    result = session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def new_totp_secret() -> str:
    """A secret for an enrolment that the user has yet to confirm with a code."""
    return pyotp.random_base32()


def provisioning_uri(name: str, secret: str) -> str:
    """The ``otpauth://`` URI an authenticator app enrols ``secret`` from (the QR code's)."""
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)


def confirm_totp(session: Session, name: str, secret: str, code: str) -> bool:
    """Turn TOTP on for ``name`` with ``secret`` once ``code`` shows the app has it; False if
    the code does not match. The code's step counts as used: it cannot sign in again."""
    user = get_user(session, name)
    if user.totp_secret is not None:
        raise AccountError("two-factor authentication is already on: disable it first")
    step = matching_step(secret, code)
    if step is None:
        return False
    user.totp_secret = secret
    user.totp_last_step = step
    return True
