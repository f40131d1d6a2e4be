"""The ``pullstats`` application: the command tree and its global options."""

from __future__ import annotations

import typer

from pullstats import __version__
from pullstats.cli import admin, generate, imports, ingest, jobs, keys, serving
from pullstats.cli.common import Application, flags, out

app = Application(
    help="pullstats: pull analytics for container registries, with Docker Hub's DVP Data API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's plain help, the same in every terminal and in docs/cli.md
    rich_markup_mode=None,
)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.namespaces_app, name="namespaces")
app.add_typer(admin.members_app, name="members")
app.add_typer(admin.ingest_tokens_app, name="ingest-tokens")
app.add_typer(ingest.ingest_app, name="ingest")
app.add_typer(admin.tokens_app, name="tokens")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(imports.import_app, name="import")
app.command("process")(jobs.process_command)
app.command("export")(jobs.export_command)
app.command("status")(jobs.status_command)
app.command("generate")(generate.generate_command)
app.command("serve")(serving.serve)
app.command("demo")(serving.demo)


def _version(value: bool) -> None:
    if value:
        out.print(f"pullstats {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="On an error, show the whole traceback, not one line."
    ),
) -> None:
    """Configuration comes from PULLSTATS_* environment variables (see docs/operations.md)."""
    flags.debug = debug
