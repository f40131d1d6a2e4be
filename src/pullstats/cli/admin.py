"""Operator commands: users, TOTP, namespaces, members and tokens (the catalog's schema:
:mod:`pullstats.cli.catalog`).

Secrets (access tokens, ingest tokens, TOTP enrolment) are printed once, alone on the last
stdout line, so a script can take them with ``tail -n 1``; lists print one row per line.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime

import typer
from rich.cells import cell_len

from pullstats.accounts import publishing, service, tokens, totp
from pullstats.accounts.errors import InvalidValue
from pullstats.accounts.password_policy import check_new_password
from pullstats.cli.common import fail, opened, out

users_app = typer.Typer(help="Publisher accounts.", no_args_is_help=True)
namespaces_app = typer.Typer(
    help="Namespaces (organisations) whose analytics are served.", no_args_is_help=True
)
members_app = typer.Typer(help="Who may read a namespace.", no_args_is_help=True)
totp_app = typer.Typer(help="The TOTP second factor of password logins.", no_args_is_help=True)
extra_repos_app = typer.Typer(
    help="Repositories of other namespaces a namespace may read.", no_args_is_help=True
)
tokens_app = typer.Typer(
    help="Personal access tokens: log in like a password, never ask for TOTP.",
    no_args_is_help=True,
)
ingest_tokens_app = typer.Typer(
    help="Tokens registries use to deliver events.", no_args_is_help=True
)
repos_app = typer.Typer(
    help="Repositories: which are public, named in other namespaces' co-usage reports.",
    no_args_is_help=True,
)
users_app.add_typer(totp_app, name="totp")
namespaces_app.add_typer(extra_repos_app, name="extra-repos")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Aligned plain-text columns (no markup: labels are operator text), by the width a
    terminal gives each character (two columns for a CJK one), not the count of them. No
    line ends in spaces: ``grep 'acme$'`` finds a row that ends with acme."""
    widths = [max(cell_len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    for row in (headers, *rows):
        typer.echo(
            "  ".join(
                cell + " " * (width - cell_len(cell))
                for cell, width in zip(row, widths, strict=True)
            ).rstrip(" ")
        )


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "-"


def _expiry(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (the token stops at 00:00 UTC that day) or an ISO time with an offset."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"--expires {text!r}: write YYYY-MM-DD or 2027-01-31T12:00:00Z") from None
    if moment.tzinfo is None:
        raise fail(f"--expires {text!r}: a time needs its offset, e.g. Z or +02:00")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is in year 10000 in UTC
        raise fail(f"--expires {text!r}: in UTC that is outside the years 1 to 9999") from None


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
    _table(["NAME", "EMAIL", "STATE", "TOTP", "NAMESPACES"], rows)


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


@namespaces_app.command("add")
def namespaces_add(
    namespace: str = typer.Argument(..., metavar="NAMESPACE", help="Namespace name."),
) -> None:
    """Register a namespace; its history becomes visible to its members."""
    with opened() as runtime, runtime.sessions.begin() as session:
        service.create_namespace(session, namespace)
    out.print(f"namespace {namespace} created")


@namespaces_app.command("list")
def namespaces_list() -> None:
    """List namespaces with their member count and extra repos."""
    with opened(create=False) as runtime, runtime.sessions() as session:
        namespaces = service.list_namespaces(session)
    rows = [[ns.name, str(ns.members), ",".join(ns.extra_repos) or "-"] for ns in namespaces]
    _table(["NAMESPACE", "MEMBERS", "EXTRA REPOS"], rows)


@extra_repos_app.command("add")
def extra_repos_add(
    namespace: str = typer.Argument(
        ..., metavar="NAMESPACE", help="The namespace that may read the repository."
    ),
    repository: str = typer.Argument(
        ..., metavar="REPOSITORY", help="A repository of another namespace: ns2/repo."
    ),
) -> None:
    """Let a namespace's members read a repository of another namespace."""
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        added = service.add_extra_repo(session, namespace, repository)
    out.print(
        f"{namespace} may read {repository}"
        if added
        else f"{namespace} could already read {repository}"
    )


@extra_repos_app.command("remove")
def extra_repos_remove(
    namespace: str = typer.Argument(..., metavar="NAMESPACE", help="Namespace."),
    repository: str = typer.Argument(
        ..., metavar="REPOSITORY", help="The extra repository: ns2/repo."
    ),
) -> None:
    """Withdraw an extra repository from a namespace."""
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        service.remove_extra_repo(session, namespace, repository)
    out.print(f"{namespace} may no longer read {repository}")


@repos_app.command("publish")
def repos_publish(
    repository: str = typer.Argument(
        ..., metavar="REPOSITORY", help="The repository to make public: namespace/repo."
    ),
) -> None:
    """Make a repository public: other namespaces' co-usage reports may name it (every
    exported period is exported again by the next `pullstats export`)."""
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        added = publishing.publish(session, repository)
    out.print(f"{repository} is public" if added else f"{repository} was already public")


@repos_app.command("unpublish")
def repos_unpublish(
    repository: str = typer.Argument(
        ..., metavar="REPOSITORY", help="A public repository: namespace/repo."
    ),
) -> None:
    """Make a repository private again: no other namespace's co-usage report names it from
    the next `pullstats export` on."""
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        publishing.unpublish(session, repository)
    out.print(f"{repository} is private")


@repos_app.command("list")
def repos_list() -> None:
    """List the public repositories and when each was published."""
    with opened(create=False) as runtime, runtime.sessions() as session:
        rows = [[name, _when(when)] for name, when in publishing.published(session)]
    _table(["REPOSITORY", "PUBLISHED"], rows)


@members_app.command("add")
def members_add(
    namespace: str = typer.Argument(..., metavar="NAMESPACE", help="Namespace."),
    user: str = typer.Argument(..., metavar="USER", help="User name."),
    role: str = typer.Option("member", "--role", metavar="ROLE", help="owner, editor or member."),
) -> None:
    """Grant a user access to a namespace (or change their role)."""
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        service.add_member(session, namespace, user, role)
    out.print(f"{user} is {role} of {namespace}")


@members_app.command("remove")
def members_remove(
    namespace: str = typer.Argument(..., metavar="NAMESPACE", help="Namespace."),
    user: str = typer.Argument(..., metavar="USER", help="User name."),
) -> None:
    """Withdraw a user's access to a namespace (effective on their next request)."""
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        service.remove_member(session, namespace, user)
    out.print(f"{user} is no longer a member of {namespace}")


@tokens_app.command("create")
def tokens_create(
    user: str = typer.Argument(..., metavar="USER", help="The user the token logs in as."),
    label: str = typer.Option(
        ..., "--label", metavar="TEXT", help="What the token is for, e.g. 'ci'."
    ),
    scope: list[str] = typer.Option(
        ["analytics:read"],
        "--scope",
        metavar="SCOPE",
        help="A scope; repeat for more. Default: analytics:read.",
    ),
    expires: str | None = typer.Option(
        None,
        "--expires",
        metavar="WHEN",
        help="YYYY-MM-DD (stops at 00:00 UTC that day) or an ISO time with offset; default: never.",
    ),
) -> None:
    """Create a personal access token; it is printed once, alone on the last line."""
    expires_at = _expiry(expires)
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        secret = tokens.create_pat(session, user, label, scope, expires_at)
    out.print(f"access token {secret.id} created for {user}; it is shown only now:")
    print(secret.text)


@tokens_app.command("list")
def tokens_list(
    user: str | None = typer.Argument(None, metavar="USER", help="Only this user's tokens."),
) -> None:
    """List personal access tokens (never their secrets)."""
    with opened(create=False) as runtime, runtime.sessions() as session:
        pats = tokens.list_pats(session, user)
    rows = [
        [
            pat.id,
            pat.user,
            pat.label,
            ",".join(pat.scopes),
            pat.status,
            _when(pat.expires_at),
            _when(pat.last_used_at),
        ]
        for pat in pats
    ]
    _table(["ID", "USER", "LABEL", "SCOPES", "STATE", "EXPIRES", "LAST USED"], rows)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: str = typer.Argument(..., metavar="TOKEN_ID", help="The token's id (or the token)."),
) -> None:
    """Revoke a personal access token; the JWTs it yielded stop working at once."""
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        changed = tokens.revoke_pat(session, token_id)
    out.print("access token revoked" if changed else "access token was already revoked")


@ingest_tokens_app.command("create")
def ingest_tokens_create(
    name: str = typer.Argument(..., metavar="NAME", help="A label, e.g. the registry's name."),
) -> None:
    """Create a registry ingest token; the token is printed once, alone on the last line."""
    with opened() as runtime, runtime.sessions.begin() as session:
        secret = service.create_ingest_token(session, name)
    shown = name.strip()  # as stored
    out.print(f"ingest token {secret.id} created for {shown}; it is shown only now:", markup=False)
    print(secret.text)


@ingest_tokens_app.command("list")
def ingest_tokens_list() -> None:
    """List ingest tokens (never their secrets)."""
    with opened(create=False) as runtime, runtime.sessions() as session:
        found = service.list_ingest_tokens(session)
    rows = [
        [token.id, token.name, _when(token.created_at), "revoked" if token.revoked else "active"]
        for token in found
    ]
    _table(["ID", "NAME", "CREATED", "STATE"], rows)


@ingest_tokens_app.command("revoke")
def ingest_tokens_revoke(
    token_id: str = typer.Argument(..., metavar="TOKEN_ID", help="The token's id (or the token)."),
) -> None:
    """Revoke an ingest token; running servers refuse it from their next delivery."""
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        changed = service.revoke_ingest_token(session, token_id)
    out.print("ingest token revoked" if changed else "ingest token was already revoked")
