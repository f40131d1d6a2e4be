"""Operator commands: the catalog schema, users, namespaces, members and tokens."""

from __future__ import annotations

import sys

import typer

from pullstats.accounts import service
from pullstats.cli.common import fail, opened, out
from pullstats.config import Settings
from pullstats.db.engine import make_engine
from pullstats.db.migrate import upgrade

db_app = typer.Typer(help="The catalog database.", no_args_is_help=True)
users_app = typer.Typer(help="Publisher accounts.", no_args_is_help=True)
namespaces_app = typer.Typer(
    help="Namespaces (organisations) whose analytics are served.", no_args_is_help=True
)
members_app = typer.Typer(help="Who may read a namespace.", no_args_is_help=True)
ingest_tokens_app = typer.Typer(
    help="Tokens registries use to deliver events.", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the catalog database or migrate it to this version's schema."""
    settings = Settings()
    settings.paths.ensure()
    engine = make_engine(settings.database_url_value)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        out.print(f"catalog schema is current ({after})")
    else:
        out.print(f"catalog schema upgraded from {before or 'nothing'} to {after}")


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="Account name (a-z, 0-9, '.', '_', '-')."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    email: str | None = typer.Option(None, "--email", help="Contact address."),
) -> None:
    """Create a user."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise fail("no password on standard input")
    with opened() as runtime, runtime.sessions.begin() as session:
        service.create_user(session, name, password, email)
    out.print(f"user {name} created")


@namespaces_app.command("add")
def namespaces_add(namespace: str = typer.Argument(..., help="Namespace name.")) -> None:
    """Register a namespace; its history becomes visible to its members."""
    with opened() as runtime, runtime.sessions.begin() as session:
        service.create_namespace(session, namespace)
    out.print(f"namespace {namespace} created")


@members_app.command("add")
def members_add(
    namespace: str = typer.Argument(..., help="Namespace."),
    user: str = typer.Argument(..., help="User name."),
    role: str = typer.Option("member", "--role", help="owner, editor or member."),
) -> None:
    """Grant a user access to a namespace (or change their role)."""
    with opened() as runtime, runtime.sessions.begin() as session:
        service.add_member(session, namespace, user, role)
    out.print(f"{user} is {role} of {namespace}")


@ingest_tokens_app.command("create")
def ingest_tokens_create(
    name: str = typer.Argument(..., help="A label, e.g. the registry's name."),
) -> None:
    """Create a registry ingest token; the token is printed once, alone on the last line."""
    with opened() as runtime, runtime.sessions.begin() as session:
        secret = service.create_ingest_token(session, name)
    out.print(f"ingest token {secret.id} created for {name}; it is shown only now:")
    print(secret.text)
