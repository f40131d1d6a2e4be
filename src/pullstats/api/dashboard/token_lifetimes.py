"""The lifetimes the account page's new-token form offers: the one list that the form shows
(``account.html``) and that ``POST /account/tokens`` accepts (``account_tokens``)."""

from __future__ import annotations

#: days (an empty text: no expiry) → what the form's list says
LIFETIMES = {"": "Never", "30": "In 30 days", "90": "In 90 days", "365": "In a year"}
#: the lifetime the form picks until the user picks another
DEFAULT_LIFETIME = "90"
