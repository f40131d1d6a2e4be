"""Operator commands: namespaces, members, repositories and tokens (users and TOTP:
:mod:`pullstats.cli.users`; the catalog's schema: :mod:`pullstats.cli.catalog`).

Secrets (access tokens, ingest tokens) are printed once, alone on the last
stdout line, so a script can take them with ``tail -n 1``; lists print one row per line.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import typer

from pullstats.accounts import publishing, service, tokens
from pullstats.cli.common import fail, opened, out
from pullstats.cli.tables import table

namespaces_app = typer.Typer(
    help="Namespaces (organisations) whose analytics are served.", no_args_is_help=True
)
members_app = typer.Typer(help="Who may read a namespace.", no_args_is_help=True)
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
namespaces_app.add_typer(extra_repos_app, name="extra-repos")


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
    table(["NAMESPACE", "MEMBERS", "EXTRA REPOS"], rows)


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
    table(["REPOSITORY", "PUBLISHED"], rows)


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
    table(["ID", "USER", "LABEL", "SCOPES", "STATE", "EXPIRES", "LAST USED"], rows)


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
    table(["ID", "NAME", "CREATED", "STATE"], rows)


@ingest_tokens_app.command("revoke")
def ingest_tokens_revoke(
    token_id: str = typer.Argument(..., metavar="TOKEN_ID", help="The token's id (or the token)."),
) -> None:
    """Revoke an ingest token; running servers refuse it from their next delivery."""
    with opened(create=False) as runtime, runtime.sessions.begin() as session:
        changed = service.revoke_ingest_token(session, token_id)
    out.print("ingest token revoked" if changed else "ingest token was already revoked")
