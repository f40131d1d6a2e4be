"""The ``pullstats`` application: the command tree and its global options.

The tree is declared as names and where each is defined (:data:`GROUPS`, :data:`COMMANDS`), and
a process builds only what it runs: ``pullstats hub pulls`` imports the ``hub`` commands, not
the catalog's administration nor the server, and ``--version`` none; ``--help``, no command or
an unknown one build the whole tree (:func:`build_app`, :func:`invoked`). ``app`` is the whole
tree, for callers in process (``cli.reference``, ``spark_job``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection, Mapping, Sequence
from importlib import import_module
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

import typer

from pullstats import __version__
from pullstats.cli.common import Application, flags, interrupted_exit, out

#: The groups of commands, in the order ``pullstats --help`` lists them: each name's module of
#: ``pullstats.cli`` and its Typer app there.
GROUPS = {
    "db": ("catalog", "db_app"),
    "users": ("users", "users_app"),
    "namespaces": ("admin", "namespaces_app"),
    "members": ("admin", "members_app"),
    "repos": ("admin", "repos_app"),
    "ingest-tokens": ("admin", "ingest_tokens_app"),
    "ingest": ("ingest", "ingest_app"),
    "tokens": ("admin", "tokens_app"),
    "keys": ("keys", "keys_app"),
    "nodes": ("nodes", "nodes_app"),
    "import": ("imports", "import_app"),
    "hub": ("hub", "hub_app"),
}
#: The commands at the top, likewise (``--help`` lists them before the groups): each name's
#: module and function.
COMMANDS = {
    "process": ("jobs", "process_command"),
    "export": ("jobs", "export_command"),
    "status": ("jobs", "status_command"),
    "hold-job-lock": ("hold_lock", "hold_job_lock_command"),
    "generate": ("generate", "generate_command"),
    "serve": ("serving", "serve"),
    "demo": ("serving", "demo"),
}
#: The click context settings of the commands that need their own: from ``hold-job-lock``'s CMD
#: on, every argument is CMD's, its options too (``-- CMD`` is not needed, as with ``flock``).
CONTEXT_SETTINGS: dict[str, dict[str, Any]] = {"hold-job-lock": {"allow_interspersed_args": False}}


def _version(value: bool) -> None:
    if value:
        out.print(f"pullstats {__version__}")
        raise typer.Exit()


def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(
        False,
        "--debug",
        help="On an error, show the whole traceback, not one line; with PULLSTATS_ENGINE=spark, "
        "Spark's own log on stderr too (else in the data dir's logs/spark.log).",
    ),
) -> None:
    """Configuration comes from PULLSTATS_* environment variables (see docs/operations.md)."""
    flags.debug = debug
    # here, not in run(): --version and --help answer before any command, and read no setting
    from pullstats.cli.setting_names import unknown_setting_notes

    for note in unknown_setting_notes(os.environ):
        print(note, file=sys.stderr)


def build_app(only: Collection[str] | None = None) -> Application:
    """The command tree; with ``only``, names of :data:`GROUPS` and :data:`COMMANDS`, those
    alone under the root (what a process running them needs; none: the root's options)."""
    built = Application(
        help="pullstats: pull analytics for container registries, with Docker Hub's DVP Data API.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # click's plain help, the same in every terminal and in docs/cli.md
        rich_markup_mode=None,
    )

    def defined(module: str, attribute: str) -> Any:
        return getattr(import_module(f"pullstats.cli.{module}"), attribute)

    for name, (module, attribute) in GROUPS.items():
        if only is None or name in only:
            sub_app = defined(module, attribute)
            assert isinstance(sub_app, typer.Typer)
            built.add_typer(sub_app, name=name)
    for name, (module, attribute) in COMMANDS.items():
        if only is None or name in only:
            context = CONTEXT_SETTINGS.get(name)
            built.command(name, context_settings=context)(defined(module, attribute))
    built.callback()(main)
    return built


def invoked(args: Sequence[str]) -> tuple[str, ...] | None:
    """What of the tree ``args`` run (:func:`build_app`'s ``only``): the group or command they
    name, nothing for ``--version`` (it answers before any command), or None (the whole tree)
    for ``--help``, no command or one the tree does not have."""
    for arg in args:
        if arg == "--debug":  # the root's one option that goes on to a command (it takes no value)
            continue
        if arg == "--version":
            return ()
        return (arg,) if arg in GROUPS or arg in COMMANDS else None
    return None


_whole: Application | None = None


def __getattr__(name: str) -> Application:
    """``app``: the whole tree, built at its first use."""
    global _whole
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _whole is None:
        _whole = build_app()
    return _whole


def run() -> None:
    """The ``pullstats`` command: the installed script and ``python -m pullstats``."""
    arrow_without_pandas(os.environ)
    try:
        build_app(invoked(sys.argv[1:]))(prog_name="pullstats")
    except KeyboardInterrupt:  # while the command's modules load, before typer handles it
        sys.exit(130)
    except Exception as error:  # the same, turned into an error by the library it hit
        interrupted_exit(error)
        raise


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
