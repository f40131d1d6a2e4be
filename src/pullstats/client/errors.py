"""Every way a call of :mod:`pullstats.client` can fail, as one tree.

``ClientError`` is the base; each failure is exactly one of these, carrying the server's own
message (``detail``, or Docker Hub's ``message``) and the HTTP status when there was one:

- ``AuthenticationRequired`` (401): no token, a wrong name, password or code, or a token that
  expired when no credentials are known to sign in again.
- ``SecondFactorRequired`` (a 401 of ``/v2/users/login`` with ``login_2fa_token``): the
  password was right and the account has TOTP on; call ``client.second_factor(code)`` within
  the server's window. The exception holds ``login_2fa_token``.
- ``Forbidden`` (403): signed in, but the token may not do this (a PAT without the scope).
- ``NotFound`` (404): no such namespace, repository or period, or one the caller may not read
  (the DVP API does not tell the two apart).

  - ``DatasetNotServed``: a 404 for a report dataset (``summary``) from a server that does not
    list it for the namespace: Docker Hub, which serves only ``pulls``, or an older pullstats.
- ``RateLimited`` (429): too many requests or failed logins; ``retry_after`` is the server's
  ``Retry-After`` in seconds (None when it sent none). Data calls retry these by themselves
  while the wait is short; a login never does, since its throttle lasts minutes.
- ``ServerError`` (5xx, and any other answer the client cannot use: a 4xx not listed here, a
  redirect, which is never followed and is said as ``redirected to URL: use --url ORIGIN``,
  or a body that is not the contract's shape); a data call retries a 5xx with backoff before
  it raises it.
- ``TransportError``: no answer at all (refused connection, timeout, TLS); retried like a 5xx.
- ``CorruptDownload`` (:mod:`pullstats.client.files`): an export file whose bytes, fetched
  twice, still do not match the listing (size, a whole gzip stream, the SHA-256 when the
  server gives one). ``label`` names the file; nothing is left at its destination.
- ``QueryError`` (:mod:`pullstats.client.query`): SQL over the downloaded files that DuckDB
  refused, or a folder with no export files to query; the message is one line.

A login (``/v2/users/login``, ``/v2/users/2fa-login``) is sent once and never retried: a
retried wrong password would only spend the account's failed-login allowance.
"""

from __future__ import annotations

from typing import Self


class ClientError(Exception):
    """The base of every failure; ``status`` is the HTTP status (None without an answer);
    ``server`` the base URL of the DVP API server that answered a data call or a login (None
    for a file host's answer, or no answer): where to log in again."""

    server: str | None = None

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def answered_by(self, server: str | None) -> Self:
        """This error, as answered by the DVP API server at ``server`` (its base URL)."""
        self.server = server
        return self


class AuthenticationRequired(ClientError):
    pass


class SecondFactorRequired(AuthenticationRequired):
    """A subclass of ``AuthenticationRequired``: a caller that cannot ask for a code may treat
    it as a failed login."""

    def __init__(self, message: str, login_2fa_token: str) -> None:
        super().__init__(message, 401)
        self.login_2fa_token = login_2fa_token


class Forbidden(ClientError):
    pass


class NotFound(ClientError):
    pass


class DatasetNotServed(NotFound):
    """A subclass of ``NotFound``: the server has no such dataset at all (report datasets are
    a pullstats extension), so asking again for another period will not help."""


class RateLimited(ClientError):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


class ServerError(ClientError):
    def __init__(self, message: str, status: int | None, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class TransportError(ClientError):
    pass


class CorruptDownload(ClientError):
    """Not a network failure: the server sent the bytes, and they are not the file listed.
    Raised after one fresh fetch, since a second identical mismatch will not heal by retrying
    (a rebuilt export: ask for the listing again)."""

    def __init__(self, message: str, label: str) -> None:
        super().__init__(message)
        self.label = label


class QueryError(ClientError):
    pass
