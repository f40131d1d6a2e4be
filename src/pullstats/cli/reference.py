"""The CLI reference as Markdown, rendered from the Typer app's own ``--help`` texts.

``python -m pullstats.cli.reference > docs/cli.md`` regenerates the page; a test compares the
page with a fresh rendering, so the reference cannot drift from the commands.

Help is rendered by click's plain formatter at a fixed width, never by Rich: Rich's output
depends on the terminal and on environment variables read when Typer is imported, and the page
must come out the same on every machine.
"""

from __future__ import annotations

from collections.abc import Iterator

import typer
import typer.core
import typer.main

from pullstats.cli.main import app

#: Width of the rendered help, in characters.
WIDTH = 100

_HEADER = """\
# CLI reference

Generated from the commands' own `--help` by `python -m pullstats.cli.reference > docs/cli.md`;
do not edit by hand (`tests/test_docs.py` fails when this page and the commands disagree). The
operator guide, [operations.md](operations.md), explains what the commands are for and shows
their output.
"""


def help_pages(app: typer.Typer = app) -> Iterator[tuple[str, str]]:
    """(command path, help text) of the root and every group and command under it, depth first."""
    root = typer.main.get_command(app)
    stack = [
        root.context_class(
            root, info_name="pullstats", terminal_width=WIDTH, max_content_width=WIDTH
        )
    ]
    while stack:
        context = stack.pop()
        command = context.command
        if isinstance(command, typer.core.TyperCommand | typer.core.TyperGroup):
            command.rich_markup_mode = None  # plain click formatting, whatever the terminal
        yield context.command_path, command.get_help(context).rstrip() + "\n"
        if isinstance(command, typer.core.TyperGroup):
            children = []
            for name in command.list_commands(context):
                child = command.get_command(context, name)
                if child is not None and not child.hidden:
                    children.append(
                        child.context_class(
                            child,
                            info_name=name,
                            parent=context,
                            terminal_width=WIDTH,
                            max_content_width=WIDTH,
                        )
                    )
            stack.extend(reversed(children))


def render(app: typer.Typer = app) -> str:
    """The whole reference page: one section per command, in the order ``--help`` lists them."""
    sections = [_HEADER]
    for path, text in help_pages(app):
        sections.append(f"## `{path}`\n\n```text\n{text}```\n")
    return "\n".join(sections)


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
