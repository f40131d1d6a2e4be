"""The operator commands' lists: aligned plain-text columns, one row per line."""

from __future__ import annotations

from collections.abc import Sequence

import typer
from rich.cells import cell_len


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
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
