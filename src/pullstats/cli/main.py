"""The ``pullstats`` application: the command tree and its global options."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

import typer

from pullstats import __version__
from pullstats.cli import admin, generate, hub, imports, ingest, jobs, keys, serving
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
app.add_typer(admin.repos_app, name="repos")
app.add_typer(admin.ingest_tokens_app, name="ingest-tokens")
app.add_typer(ingest.ingest_app, name="ingest")
app.add_typer(admin.tokens_app, name="tokens")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(imports.import_app, name="import")
app.add_typer(hub.hub_app, name="hub")
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


def run() -> None:
    """The ``pullstats`` command: the installed script and ``python -m pullstats``."""
    arrow_without_pandas(os.environ)
    app(prog_name="pullstats")


class _NoPandas(MetaPathFinder):
    """Fails every import of pandas (see :func:`arrow_without_pandas`)."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ImportError("pandas is not used by pullstats commands on DuckDB")
        return None  # not ours: the next finder's


def arrow_without_pandas(environ: Mapping[str, str]) -> None:
    """Keep pandas out of this process, unless the Spark engine is chosen.

    pullstats never uses pandas on DuckDB, but pyarrow imports it whenever it is installed
    (the spark extra and PySpark's tests install it): the first time it converts Python or
    NumPy values (``pa.array``, ``pa.table`` of lists …), and again at every conversion while
    it has not found it. That import is about half a second of CPU in every data command. So the
    process's imports of pandas fail, and pyarrow goes on as it does without pandas (it only
    looks for pandas objects among what it is given, and pullstats gives it none). The Spark
    engine is left alone: PySpark needs pandas. Only the command's own process does this
    (:func:`run`), never a caller of ``app`` in-process, such as the tests.
    """
    engines = [value for key, value in environ.items() if key.upper() == "PULLSTATS_ENGINE"]
    if "pandas" in sys.modules or any(value != "duckdb" for value in engines):
        return
    sys.meta_path.insert(0, _NoPandas())
