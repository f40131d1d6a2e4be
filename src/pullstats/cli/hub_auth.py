"""Where a ``pullstats hub`` command goes, and who it signs in as (docs/client.md).

Where: ``--url``, else ``PULLSTATS_HUB_URL``, else Docker Hub (``https://hub.docker.com``).
Who: the token ``pullstats hub login`` stored for that URL (:mod:`pullstats.client.credentials`)
while the server accepts it, else a login with ``PULLSTATS_HUB_USERNAME`` and
``PULLSTATS_HUB_PASSWORD`` (a password or a personal access token). An account with TOTP on
cannot sign in from the environment (a code is needed each time): it logs in once with
``pullstats hub login`` and the commands use the stored token.

Each failure is one ``error: …`` line on stderr and exit status 1: the ones of signing in are
said here, every other client error by :func:`pullstats.cli.common.client_error_line`.

The client is imported when a command runs, not with this module: every ``pullstats``
command imports the command tree, and the client (with httpx and tenacity) would cost each of
them a fifth of a second.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from pullstats.cli.common import err, fail

if TYPE_CHECKING:
    from pullstats.client import ClientError, DvpClient

#: ``pullstats.client.DOCKER_HUB``, the default (tests/client/test_credentials.py checks)
DOCKER_HUB = "https://hub.docker.com"
URL_ENV = "PULLSTATS_HUB_URL"
USERNAME_ENV = "PULLSTATS_HUB_USERNAME"
PASSWORD_ENV = "PULLSTATS_HUB_PASSWORD"

#: The ``--url`` option every ``pullstats hub`` command takes.
UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar=URL_ENV,
        metavar="URL",
        show_default=False,
        help=f"The DVP server: Docker Hub ({DOCKER_HUB}, the default) or a pullstats server's "
        "base URL.",
    ),
]


def hub_url(url: str | None) -> str:
    """The base URL a command talks to, in the form tokens are stored under."""
    from pullstats.client import credentials
    from pullstats.client.credentials import CredentialsError

    if url is None:  # click takes an empty variable for an unset one
        url = os.environ.get(URL_ENV)
    if url is not None and not url.strip():
        # not Docker Hub's default: a script whose server variable came out empty would send
        # its private server's password or token to Docker Hub
        raise fail(
            f"--url / {URL_ENV}: empty: name the server (a pullstats server's base URL, or "
            f"{DOCKER_HUB}); for Docker Hub, leave both out"
        )
    chosen = url or DOCKER_HUB
    try:
        return credentials.base_url(chosen)
    except CredentialsError as error:
        raise fail(f"--url / {URL_ENV}: {error.message}") from None


def env_credentials(*, one_will_do: bool = False) -> tuple[str, str] | None:
    """``PULLSTATS_HUB_USERNAME`` and ``PULLSTATS_HUB_PASSWORD``, or None when neither is
    set; one without the other is an error, or None too when ``one_will_do`` (a command with
    a stored token: a user name alone is only what `hub login` would ask for first)."""
    username = os.environ.get(USERNAME_ENV) or None
    secret = os.environ.get(PASSWORD_ENV) or None
    if username is None and secret is None:
        return None
    if username is None or secret is None:
        if one_will_do:
            return None
        missing = USERNAME_ENV if username is None else PASSWORD_ENV
        raise fail(f"{missing} is not set: set both {USERNAME_ENV} and {PASSWORD_ENV}, or neither")
    return username, secret


def expired(token: str, now: datetime | None = None) -> bool:
    """Whether the token's own ``exp`` has passed (a token that says nothing never has)."""
    from pullstats.client.credentials import expires_at

    when = expires_at(token)
    return when is not None and when <= (now or datetime.now(UTC))


def connect(url: str | None) -> DvpClient:
    """A client of ``url`` (see :func:`hub_url`), signed in; close it when done.

    The stored token when there is one that has not expired. When the environment holds
    credentials too, the client signs in with them once whenever the server refuses the token
    (a 401, at the first request or later in a long run); without them, a token the server
    refuses fails the command with a line saying to log in.
    """
    from pullstats.client import DvpClient, credentials

    base = hub_url(url)
    stored = credentials.load(base)
    usable = stored is not None and not expired(stored.token)
    # a stored token, even an expired one, makes a lone user name no half of the credentials:
    # the expired token is then what the command says to renew
    from_env = env_credentials(one_will_do=stored is not None)
    if stored is not None and usable:
        return DvpClient(base, token=stored.token, credentials=from_env, on_retry=_say_retry)
    if from_env is None:
        if stored is not None:
            raise fail(
                f"the token stored for {base} ({stored.username}) has expired: "
                f"run `{credentials.login_command(base)}` again"
            )
        raise fail(
            f"not logged in to {base}: run `{credentials.login_command(base)}`, "
            f"or set {USERNAME_ENV} and {PASSWORD_ENV}"
        )
    return _env_login(base, *from_env)


def _say_retry(error: ClientError, attempt: int, attempts: int, wait: float) -> None:
    """A data call that failed and is tried again: a note on stderr (stdout is the data)."""
    err.print(
        f"note: {error.message}; trying again in {wait:.1f} s (attempt {attempt} of {attempts})",
        markup=False,
    )


def _env_login(base: str, username: str, secret: str) -> DvpClient:
    from pullstats.client import (
        AuthenticationRequired,
        DvpClient,
        SecondFactorRequired,
        credentials,
    )

    client = DvpClient(base, on_retry=_say_retry)
    try:
        client.login(username, secret)
    except SecondFactorRequired:
        client.close()
        raise fail(
            f"{username} has two-factor authentication on at {base}, so {PASSWORD_ENV} cannot "
            f"sign in alone: run `{credentials.login_command(base)}` once (it asks for the code); "
            "commands then use its stored token"
        ) from None
    except AuthenticationRequired as error:
        client.close()
        raise fail(
            f"{base} refused {USERNAME_ENV}={username} with {PASSWORD_ENV} ({error.message})"
        ) from None
    except BaseException:
        client.close()
        raise
    return client


__all__ = [
    "PASSWORD_ENV",
    "URL_ENV",
    "USERNAME_ENV",
    "UrlOption",
    "connect",
    "hub_url",
]
