"""The ``pullstats`` application: command tree, ``serve`` and ``demo``."""

from __future__ import annotations

import typer

from pullstats import __version__
from pullstats.cli import admin, generate, imports, ingest, jobs
from pullstats.cli.common import fail, opened, out
from pullstats.config import Settings

app = typer.Typer(
    help="pullstats: pull analytics for container registries, with Docker Hub's DVP Data API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.namespaces_app, name="namespaces")
app.add_typer(admin.members_app, name="members")
app.add_typer(admin.ingest_tokens_app, name="ingest-tokens")
app.add_typer(ingest.ingest_app, name="ingest")
app.add_typer(admin.tokens_app, name="tokens")
app.add_typer(imports.import_app, name="import")
app.command("process")(jobs.process_command)
app.command("export")(jobs.export_command)
app.command("status")(jobs.status_command)
app.command("generate")(generate.generate_command)


def _version(value: bool) -> None:
    if value:
        out.print(f"pullstats {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Configuration comes from PULLSTATS_* environment variables (see docs/operations.md)."""


def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from pullstats.api.app import create_app

    if workers > 1 and settings.database_url_value.startswith("sqlite"):
        raise fail("--workers > 1 needs PostgreSQL (PULLSTATS_DATABASE_URL): SQLite is per process")
    with opened(settings):
        pass  # create or check the catalog before the first request
    if workers > 1:  # each worker process builds its own app from the same environment
        uvicorn.run(
            "pullstats.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            proxy_headers=False,  # X-Forwarded-For is read only from PULLSTATS_TRUSTED_PROXIES
            access_log=False,  # ours (PULLSTATS_ACCESS_LOG) leaves query strings out
        )
    else:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level="info",
            proxy_headers=False,
            access_log=False,
        )


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", help="Worker processes (PostgreSQL only)."),
) -> None:
    """Serve the API, ingest, downloads and the dashboard on one port."""
    _serve(Settings(), host, port, workers)


@app.command()
def demo(
    port: int = typer.Option(8000, "--port", help="Port to serve on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to serve on."),
    requests_per_day: int = typer.Option(
        1500, "--requests-per-day", help="Average synthetic requests per day."
    ),
) -> None:
    """Fill the data dir with a year of synthetic pulls, a demo user and exports, then serve."""
    from pullstats.demo.seed import DEMO_PASSWORD, DEMO_USER, seed_demo

    settings = Settings()
    with opened(settings) as runtime:
        seeded = seed_demo(runtime, requests_per_day=requests_per_day)
        if seeded.generated:
            out.print(f"generated {seeded.generated} synthetic requests")
        result = jobs.run_process(runtime)
        out.print(f"processed: {result.compaction.written} new requests, {result.actions} actions")
        exported = jobs.run_export(runtime, None)
        out.print(f"exported {len(exported.exported)} namespace periods ({exported.files} files)")
    base = f"http://{host}:{port}"
    out.print(f"\npullstats demo is at {base}/  (API reference: {base}/docs)")
    out.print(f"log in as {DEMO_USER} / {DEMO_PASSWORD}")
    if seeded.ingest_token:
        out.print(f"registry ingest token: {seeded.ingest_token}")
    out.print(
        f"try: curl -s -X POST {base}/v2/users/login -H 'Content-Type: application/json' "
        f'-d \'{{"username": "{DEMO_USER}", "password": "{DEMO_PASSWORD}"}}\'\n'
    )
    _serve(settings, host, port)
