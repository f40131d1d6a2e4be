"""What ``pullstats hub`` prints: Rich tables, a bar chart of pulls, the export tree, and the
machine-readable CSV and JSON (alone on stdout, nothing else there).

Every value from the server is shown as text, never as Rich markup: a name may hold ``[``.
The client and its models are imported for types only: every ``pullstats`` command imports
this module, and the client would cost each a fifth of a second (see ``hub.py``).
"""

from __future__ import annotations

import csv
import enum
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, RenderableType
from rich.filesize import decimal
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from pullstats.cli.common import out

if TYPE_CHECKING:
    from pullstats.client import ExportFile
    from pullstats.client.answers import NamespaceMetadata, PullModel
    from pullstats.rollups.series_query import Timespan


class TimespanChoice(enum.StrEnum):
    """``--timespan``: the values of ``pullstats.rollups.series.Timespan``, which is not
    imported with the command tree (``hub.py``); tests/client/test_credentials.py keeps the
    three choices equal to the client's enums."""

    MONTHS = "months"
    WEEKS = "weeks"


class PeriodChoice(enum.StrEnum):
    """``--period``: ``RelativePeriod``'s values."""

    LAST_2_MONTHS = "last-2-months"
    LAST_3_MONTHS = "last-3-months"
    LAST_6_MONTHS = "last-6-months"
    LAST_12_MONTHS = "last-12-months"


class DatasetChoice(enum.StrEnum):
    """``--dataset``: ``pullstats.exports.reports.Dataset``'s values: Docker's ``pulls`` and
    pullstats' report datasets."""

    PULLS = "pulls"
    SUMMARY = "summary"
    TRENDS = "trends"
    CO_USAGE = "co-usage"


class GroupChoice(enum.StrEnum):
    """``--group``: ``Group``'s values."""

    REPO = "repo"
    NAMESPACE = "namespace"


class TableOrJson(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


class SeriesFormat(enum.StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


#: ``Timespan.MONTHS``'s value (a ``StrEnum``: equal to its value)
MONTHS = "months"
#: Columns of ``pullstats hub pulls --format csv``, the API's own field names.
CSV_COLUMNS = ("start", "end", "namespace", "repo", "pullCount", "ipCount")
#: Cells of the widest bar of the pulls chart.
BAR_WIDTH = 24
#: A cell filled by eighths, left to right: U+258F … U+2589, then the full block U+2588.
_EIGHTHS = " ▏▎▍▌▋▊▉"
_FULL = "█"


#: The width tables and trees are drawn at when stdout is a file or a pipe, or a table's own
#: width when it is wider: no row wraps and no cell is cut, so ``grep`` and ``awk`` see one
#: line per row, whole (a terminal gets its own width).
PIPED_WIDTH = 240


def show(renderable: RenderableType) -> None:
    """A table or tree on stdout: at the terminal's width, or at :data:`PIPED_WIDTH` or the
    table's natural width, whichever is wider. Piped, no line ends in the spaces that pad
    its last column: a script's ``grep 'acme$'`` finds the row."""
    if out.is_terminal:
        out.print(renderable)
        return
    width = PIPED_WIDTH
    if isinstance(renderable, Table):
        measuring = Console(highlight=False, width=sys.maxsize)
        width = max(width, measuring.measure(renderable).maximum)
    piped = Console(highlight=False, soft_wrap=True, width=width)
    with piped.capture() as captured:
        piped.print(renderable)
    sys.stdout.writelines(line.rstrip(" ") + "\n" for line in captured.get().splitlines())


def print_json(body: Any) -> None:
    """``body`` as JSON that every parser reads: NaN and the infinities (a query's floats),
    which JSON has no spelling for, as null."""
    sys.stdout.write(json.dumps(_finite(body), indent=2, allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def dumped(model: Any) -> Any:
    """A model (or a list of them) as the API's JSON: absent fields left out."""
    if isinstance(model, list):
        return [dumped(item) for item in model]
    return model.model_dump(mode="json", exclude_none=True)


# namespaces ---------------------------------------------------------------------------


def namespaces_table(metadata: Sequence[NamespaceMetadata], readable: Sequence[str]) -> Table:
    """One row per namespace: its datasets, their views and its extra repositories. A
    namespace the discovery route lists without metadata still gets a row."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for header in ("NAMESPACE", "DATASETS", "VIEWS", "EXTRA REPOS"):
        table.add_column(header)
    described = {item.namespace for item in metadata}
    for item in metadata:
        # names as the server sent them: a dataset or view Docker adds is shown as it is
        datasets = ", ".join(
            (d.name or "?") + (f" ({', '.join(d.timespans)})" if d.timespans else "")
            for d in item.datasets
        )
        views = dict.fromkeys(view for d in item.datasets for view in d.views)  # in order
        table.add_row(
            Text(item.namespace or "-"),
            Text(datasets or "-"),
            Text(", ".join(views) or "-"),
            Text(", ".join(item.extraRepos) or "-"),
        )
    for name in readable:
        if name not in described:
            table.add_row(Text(name), Text("-"), Text("-"), Text("-"))
    return table


# pulls --------------------------------------------------------------------------------


def bar(value: int, largest: int, width: int = BAR_WIDTH) -> str:
    """``value`` as a bar of Unicode blocks, ``width`` cells for ``largest``, to an eighth of
    a cell; a value above zero always shows at least an eighth."""
    if value <= 0 or largest <= 0:
        return ""
    eighths = max(1, round(value * width * 8 / largest))
    full, rest = divmod(eighths, 8)
    return _FULL * full + (_EIGHTHS[rest] if rest else "")


def _ascii_bar(value: int, largest: int, width: int = BAR_WIDTH) -> str:
    if value <= 0 or largest <= 0:
        return ""
    return "#" * max(1, round(value * width / largest))


def period_label(row: PullModel, timespan: Timespan) -> str:
    """``2026-11`` for a month, ``2026-W46`` for an ISO week (the DVP API's weeks), as the
    export tree names them."""
    if row.start is None:  # the contract requires no field of a row
        return "-"
    if timespan == MONTHS:
        return row.start[:7]
    try:
        year, week, _ = date.fromisoformat(row.start[:10]).isocalendar()
    except ValueError:
        return row.start
    return f"{year}-W{week:02d}"


def pulls_table(rows: Sequence[PullModel], timespan: Timespan, title: str) -> Table:
    """The series with a bar per row, scaled to the row with the most pulls."""
    blocks = _can_draw_blocks()
    largest = max((row.pullCount or 0 for row in rows), default=0)
    by_repo = any(row.repo is not None for row in rows)
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, title_justify="left")
    table.add_column("MONTH" if timespan == MONTHS else "WEEK", no_wrap=True)
    if by_repo:
        table.add_column("REPO")
    table.add_column("PULLS", justify="right")
    table.add_column("IPS", justify="right")
    table.add_column("", no_wrap=True, min_width=BAR_WIDTH)
    for row in rows:
        pulls = row.pullCount or 0
        drawn = bar(pulls, largest) if blocks else _ascii_bar(pulls, largest)
        label = period_label(row, timespan) + (" (partial)" if row.partial else "")
        cells = [Text(label)]
        if by_repo:
            cells.append(Text(row.repo or "-"))
        cells += [Text(_count(row.pullCount)), Text(_count(row.ipCount)), Text(drawn)]
        table.add_row(*cells)
    return table


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def print_pulls_csv(rows: Iterable[PullModel]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [row.start, row.end, row.namespace, row.repo or "", row.pullCount, row.ipCount]
        )


def _can_draw_blocks() -> bool:
    try:
        (_FULL + _EIGHTHS).encode(out.encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return False
    return True


# exports ------------------------------------------------------------------------------


@dataclass
class ViewFiles:
    """The parts of one view of one exported period."""

    parts: int = 0
    size: int = 0


@dataclass
class Period:
    year: int
    timespantype: Timespan
    timespan: int
    views: dict[str, ViewFiles] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.timespantype == MONTHS:
            return f"{self.year}-{self.timespan:02d}"
        return f"{self.year}-W{self.timespan:02d}"

    @property
    def parts(self) -> int:
        return sum(view.parts for view in self.views.values())

    @property
    def size(self) -> int:
        return sum(view.size for view in self.views.values())


def periods_of(files: Iterable[ExportFile]) -> list[Period]:
    """The export walk's files gathered by period and view, in the walk's order."""
    found: dict[tuple[int, Timespan, int], Period] = {}
    for part in files:
        key = (part.year, part.timespantype, part.timespan)
        period = found.setdefault(key, Period(*key))
        view = period.views.setdefault(part.dataview.value, ViewFiles())
        view.parts += 1
        view.size += part.size
    return list(found.values())


def _counted(parts: int) -> str:
    return f"{parts} part" if parts == 1 else f"{parts} parts"


def exports_tree(namespace: str, base: str, periods: Sequence[Period]) -> Tree:
    """years → months and weeks → periods → views, each with its parts and bytes."""
    parts = sum(p.parts for p in periods)
    size = sum(p.size for p in periods)
    root = Tree(
        Text(
            f"{namespace} at {base}: {len(periods)} exported periods, "
            f"{_counted(parts)}, {decimal(size)}"
        )
    )
    years: dict[int, Tree] = {}
    kinds: dict[tuple[int, Timespan], Tree] = {}
    for period in periods:
        if period.year not in years:
            years[period.year] = root.add(Text(str(period.year)))
        kind = (period.year, period.timespantype)
        if kind not in kinds:
            kinds[kind] = years[period.year].add(Text(period.timespantype.value))
        branch = kinds[kind].add(
            Text(f"{period.label}: {_counted(period.parts)}, {decimal(period.size)}")
        )
        for name, view in period.views.items():
            branch.add(Text(f"{name}: {_counted(view.parts)}, {decimal(view.size)}"))
    return root


def exports_json(periods: Sequence[Period]) -> list[dict[str, Any]]:
    return [
        {
            "year": p.year,
            "timespantype": p.timespantype.value,
            "timespan": p.timespan,
            "dataview": name,
            "parts": view.parts,
            "size": view.size,
        }
        for p in periods
        for name, view in p.views.items()
    ]
