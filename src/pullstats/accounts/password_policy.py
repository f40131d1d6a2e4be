"""What a new password must be: long enough, and not one that guessers try early.

NIST SP 800-63B asks for at least 8 characters and a check against values known to be common,
expected or compromised, and no composition rules. pullstats guards business data, so it asks
for 12, and judges guessability with zxcvbn: its bundled lists (30,000 passwords from breach
corpora, English words, names, keyboard patterns) plus repeats, sequences, dates and l33t
spellings, with the account's own name and e-mail counted as known words. A password zxcvbn
scores below 3 (fewer than about 10^8 guesses) is refused.

It applies where a password is chosen: ``pullstats users add --password-stdin``. The demo's
user is made by ``demo/seed.py`` through the account service directly, so the demo's published
password (``pullstats-demo``) is outside the policy by construction.
"""

from __future__ import annotations

import re

from pullstats.accounts.errors import InvalidValue

MIN_LENGTH = 12
#: the login route reads at most this much (api/models.py): a longer password could never log in
MAX_LENGTH = 1024
MIN_SCORE = 3
#: zxcvbn refuses longer input; a long password's strength is decided by its start
_ZXCVBN_MAX = 72


def check_new_password(password: str, user: str, email: str | None = None) -> None:
    """Raise :class:`InvalidValue` saying why ``password`` may not be set, if it may not."""
    if len(password) < MIN_LENGTH:
        raise InvalidValue(
            f"the password is too short: {len(password)} characters, at least {MIN_LENGTH} "
            "are needed (several unrelated words are easy to remember and hard to guess)"
        )
    if len(password) > MAX_LENGTH:
        raise InvalidValue(f"the password is too long: at most {MAX_LENGTH} characters")
    from zxcvbn import zxcvbn  # a quarter of a second to load its lists: only when needed

    known = [user, "pullstats", *(re.split(r"[@.+_-]", email) if email else [])]
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[word for word in known if word])
    if result["score"] < MIN_SCORE:
        warning = result["feedback"]["warning"]
        why = f" ({warning.rstrip('.')})" if warning else ""
        raise InvalidValue(
            f"the password is too easy to guess{why}: it is, or is made of, common passwords, "
            "words, names or patterns; choose a longer or less predictable one"
        )
