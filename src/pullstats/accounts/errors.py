"""Account errors.

AccountError
 ├── AlreadyExists     a user, namespace or token name that is taken
 ├── NotFound          a user, namespace, membership or token that does not exist
 ├── InvalidName       a name outside the allowed pattern
 └── InvalidValue      any other value an operator typed that cannot be used (scope, date, …)
"""

from __future__ import annotations


class AccountError(Exception):
    """A request about accounts that cannot be carried out; the message says why."""


class AlreadyExists(AccountError):
    pass


class NotFound(AccountError):
    pass


class InvalidName(AccountError):
    pass


class InvalidValue(AccountError):
    pass
