"""Operator commands for publisher accounts: users, their passwords and TOTP.

The TOTP enrolment is printed once, alone on the last stdout line, so a script can take it
with ``tail -n 1``; ``users list`` prints one row per line.
"""

from __future__ import annotations

import getpass
import sys

import typer

from pullstats.accounts import password_changes, service, totp
from pullstats.accounts.errors import InvalidValue
from pullstats.accounts.password_policy import check_new_password
from pullstats.cli.common import fail, opened, out
from pullstats.cli.tables import table

users_app = typer.Typer(help="Publisher accounts.", no_args_is_help=True)
totp_app = typer.Typer(help="The TOTP second factor of password logins.", no_args_is_help=True)
users_app.add_typer(totp_app, name="totp")


def _stdin_password() -> str:
    """The first line of standard input as UTF-8, whatever the locale (read in a Latin-1 one,
    UTF-8 became other characters, a password nobody could type); on a terminal, asked for
    on stderr and not echoed."""
    if sys.stdin is None:  # started with it closed (`<&-`): Python gives none
        raise fail("no password on standard input (it is closed)")
    try:
        if sys.stdin.isatty():
            password = getpass.getpass("Password: ", stream=sys.stderr)  # the terminal's locale
        else:
            password = sys.stdin.buffer.readline().decode().rstrip("\r\n")
    except UnicodeDecodeError:
        raise fail("the password on standard input is not UTF-8 text") from None
    except EOFError:  # Ctrl-D at the prompt
        password = ""
    if not password:
        raise fail("no password on standard input")
    return password


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., metavar="NAME", help="Account name (a-z, 0-9, '.', '_', '-')."),
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Read the password from standard input (asked for, not echoed, on a terminal); "
        "without it the user has none and logs in with a personal access token only.",
    ),
    email: str | None = typer.Option(
        None,
        "--email",
        metavar="ADDRESS",
        help="Contact address: name@domain, at most 254 bytes, no spaces.",
    ),
) -> None:
    """Create a user. A password needs at least 12 characters and must not be easy to guess."""
    try:  # before any file is made; the address first: the password's check reads it
        email = None if email is None else service.checked_email(email, "--email")
        password = _stdin_password() if password_stdin else None
        if password is not None:
            check_new_password(password, name, email)
    except InvalidValue as error:
        raise fail(str(error)) from None
    with opened() as runtime, runtime.sessions.begin() as session:
        service.create_user(session, name, password, email)
    without = (
        " without a password: it logs in only with a personal access token"
        " (pullstats tokens create)"
    )
    out.print(f"user {name} created{'' if password else without}")


@users_app.command("list")
def users_list() -> None:
    """List users: e-mail, state, TOTP and namespaces."""
    with opened(create=False) as runtime, runtime.sessions() as session:
        users = service.list_users(session)
    rows = [
        [
            user.name,
            user.email or "-",
            "disabled" if user.disabled else "active",
            "on" if user.totp else "off",
            ",".join(user.namespaces) or "-",
        ]
        for user in users
    ]
    table(["NAME", "EMAIL", "STATE", "TOTP", "NAMESPACES"], rows)


@users_app.command("disable")
def users_disable(name: str = typer.Argument(..., metavar="USER", help="User name.")) -> None:
    """Stop a user logging in; every token already issued to them stops working at once."""
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        changed = service.set_user_disabled(session, name, True)
    out.print(f"user {name} disabled" if changed else f"user {name} was already disabled")


@users_app.command("enable")
def users_enable(name: str = typer.Argument(..., metavar="USER", help="User name.")) -> None:
    """Let a disabled user log in again."""
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        changed = service.set_user_disabled(session, name, False)
    out.print(f"user {name} enabled" if changed else f"user {name} was already enabled")


@users_app.command("password")
def users_password(
    name: str = typer.Argument(..., metavar="USER", help="User name."),
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Read the new password from standard input (asked for, not echoed, on a "
        "terminal). Required: nothing else sets a password.",
    ),
) -> None:
    """Set a user's password without the current one: for a user who forgot it, or one
    created without. Their dashboard sessions and the JWTs issued to them before stop
    working; TOTP and personal access tokens stay."""
    if not password_stdin:
        raise fail("give the new password on standard input with --password-stdin")
    password = _stdin_password()
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        had = password_changes.set_password(session, name, password)
    out.print(
        f"password of {name} {'changed' if had else 'set'}: the sessions and JWTs issued to "
        "them before have ended (their personal access tokens still work)"
    )


@totp_app.command("enable")
def totp_enable(name: str = typer.Argument(..., metavar="USER", help="User name.")) -> None:
    """Turn on TOTP; prints a QR code and, alone on the last line, the otpauth:// URI."""
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        uri = totp.enable_totp(session, name)
    out.print(f"TOTP is on for {name}: enrol an authenticator app with this code or URI")
    _print_qr(uri)
    print(uri)


def _print_qr(text: str) -> None:
    import segno

    encoding = sys.stdout.encoding or "ascii"
    try:
        "▀▄█".encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return  # a terminal that cannot draw the blocks: the URI alone is enough
    segno.make(text, error="m").terminal(out=sys.stdout, compact=True)
    sys.stdout.flush()


@totp_app.command("disable")
def totp_disable(name: str = typer.Argument(..., metavar="USER", help="User name.")) -> None:
    """Turn off TOTP: password logins no longer ask for a code."""
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        changed = totp.disable_totp(session, name)
    out.print(f"TOTP is off for {name}" if changed else f"TOTP was not on for {name}")
