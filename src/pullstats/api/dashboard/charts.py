"""Server-side SVG charts: a line per series over periods, with labelled axes, ticks, the
partial period marked, and focusable points that ``static/overview.js`` turns into tooltips.

The drawing is one ``<svg role="img">`` with a ``<title>`` and ``<desc>``; the points are a
second SVG laid over it (``role="group"``), because an image's children are presentational
and could not take the keyboard focus. The page puts a table of the same numbers below the
chart. Colours are presentation attributes (no inline style: the CSP forbids it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from pullstats.api.dashboard.chart_labels import EDGE, LARGEST, text_width, x_labels
from pullstats.api.dashboard.overview_data import Line

WIDTH, HEIGHT = 720, 300
#: The margins hold the axes' text at its largest size (chart_labels.TIERS: a phone draws the
#: text twice as large in the viewBox's units): the y title sits above the plot, not beside
#: it, so that the tick values have the left margin to themselves.
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 36, 68
#: Okabe–Ito colours: distinguishable with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8a7a00", "#555555")
#: Past the palette's eight colours a line is told apart by its stroke: solid for the first
#: eight, then dashed, dotted, dash-dot, … (seven strokes: 56 lines, more than a view selects)
STROKES = (None, "8 4", "2 3", "8 3 2 3", "14 4", "4 8", "2 3 8 3")
#: Up to this many series every point is focusable on its own, with its tooltip. Past it each
#: period is one focusable column whose tooltip names its largest values, and the table under
#: the chart holds them all: fifty series over a year of weeks would be 2,650 points, 400 KB.
MAX_POINT_SERIES = 10
#: The values a column's tooltip names, largest first.
COLUMN_TOP = 5
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def series_style(n: int) -> tuple[str, str | None]:
    """The colour and the dash pattern (None: solid) of the ``n``-th line, from 0."""
    return PALETTE[n % len(PALETTE)], STROKES[(n // len(PALETTE)) % len(STROKES)]


def legend_swatch(n: int) -> Markup:
    """The legend's sample of the ``n``-th line: a short stroke as the chart draws it."""
    colour, dash = series_style(n)
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return Markup(
        '<svg width="28" height="14" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="1" y1="7" x2="27" y2="7" stroke="{colour}" stroke-width="3"{dashes}/></svg>'
    )


@dataclass(frozen=True)
class Axis:
    """The y axis: its top value and tick values."""

    top: int
    ticks: list[int]


def nice_axis(largest: int, count: int = 5) -> Axis:
    """Ticks at 1, 2 or 5 × 10^k from 0 to at least ``largest`` (0 to 1 when all are 0)."""
    if largest <= 0:
        return Axis(1, [0, 1])
    raw = largest / (count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    top = step * math.ceil(largest / step)
    return Axis(top, list(range(0, top + 1, step)))


def period_label(start: str, weeks: bool) -> str:
    """``Jan 2026`` for a month, ``2026-W03`` for an ISO week (from the period's start)."""
    day = date.fromisoformat(start[:10])
    if weeks:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{MONTHS[day.month - 1]} {day.year}"


def number(value: int) -> str:
    return f"{value:,}"


def short_number(value: int) -> str:
    """Tick labels: 950, 12k, 1.5M."""
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if abs(value) >= size:
            text = f"{value / size:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    return str(value)


def line_chart(
    lines: Sequence[Line], *, metric: str, weeks: bool, chart_id: str = "chart"
) -> Markup:
    """The chart of ``lines`` (all with the same periods), ``metric`` naming the y unit."""
    periods = lines[0].points if lines else []
    unit = "week" if weeks else "month"
    axis = nice_axis(max((p.value for line in lines for p in line.points), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slots = max(len(periods), 1)

    def x(i: int) -> float:
        return round(LEFT + plot_w * (i + 0.5) / slots, 1)

    def y(value: int) -> float:
        return round(TOP + plot_h * (1 - value / axis.top), 1)

    title = f"{metric} per {unit}"
    names = ", ".join(line.label for line in lines)
    span = (
        f"{period_label(periods[0].start, weeks)} to {period_label(periods[-1].start, weeks)}"
        if periods
        else "no periods"
    )
    desc = f"{metric} per {unit} for {names}, {span}."
    if periods and periods[-1].partial:
        desc += f" The last {unit} is not over yet: its value is partial."
    out = [
        f'<svg class="chart" id="{chart_id}" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    if periods and periods[-1].partial:  # the partial period: a shaded, labelled band
        left = LEFT + plot_w * (slots - 1) / slots
        out.append(
            f'<rect class="partial-band" x="{left:.1f}" y="{TOP}" width="{plot_w / slots:.1f}" '
            f'height="{plot_h}" fill="currentColor" fill-opacity="0.08"/>'
            f"{_partial_label(x(slots - 1))}"
        )
    for tick in axis.ticks:  # y ticks and grid
        # centred on the grid line whatever size the stylesheet gives the text
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick)}" y2="{y(tick)}" '
            f'stroke="currentColor" stroke-opacity="0.15"/>'
            f'<text class="y-tick" x="{LEFT - 6}" y="{y(tick)}" text-anchor="end" '
            f'dominant-baseline="central" font-size="11" fill="currentColor">'
            f"{short_number(tick)}</text>"
        )
    shown = [period_label(point.start, weeks) for point in periods]
    for label in x_labels(shown, x, (LEFT, WIDTH)):
        # hanging from just under the axis, so a larger text grows away from the plot
        out.append(
            f'<text class="x-tick {" ".join(label.tiers)}" x="{label.x}" y="{TOP + plot_h + 6}" '
            f'text-anchor="{label.anchor}" dominant-baseline="hanging" font-size="11" '
            f'fill="currentColor">{shown[label.index]}</text>'
        )
    out.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" '
        f'y2="{TOP + plot_h}" stroke="currentColor"/>'
        f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" '
        f'stroke="currentColor"/>'
        f'<text class="x-title" x="{LEFT + plot_w / 2}" y="{HEIGHT - 8}" text-anchor="middle" '
        f'font-size="12" fill="currentColor">{"ISO week" if weeks else "Month"} (UTC)</text>'
        f'<text class="y-title" x="{LEFT}" y="{TOP - 10}" text-anchor="start" '
        f'font-size="12" fill="currentColor">{escape(metric)} per {unit}</text>'
    )
    for n, line in enumerate(lines):
        colour, dash = series_style(n)
        coords = [(x(i), y(p.value)) for i, p in enumerate(line.points)]
        complete = [c for c, p in zip(coords, line.points, strict=True) if not p.partial]
        if len(complete) > 1:
            out.append(_polyline(complete, colour, "series", dash))
        if line.points and line.points[-1].partial and len(coords) > 1:
            # dashed (a dashed line keeps its own dashes: the shading marks the period)
            out.append(_polyline(coords[-2:], colour, "series partial", dash or "5 4"))
    out.append("</svg>")
    out.append(_points_layer(lines, metric, weeks, x, y, chart_id))
    return Markup("".join(out))


def _partial_label(centre: float) -> str:
    """*partial* at the top of the current period's band, pulled in from the right edge
    when the band is too narrow to centre it (a year of weeks)."""
    at, anchor = centre, "middle"
    if centre + text_width("partial", LARGEST) / 2 > WIDTH - EDGE * LARGEST:
        at, anchor = WIDTH - RIGHT - 4, "end"
    return (
        f'<text class="partial-label" x="{at}" y="{TOP + 4}" text-anchor="{anchor}" '
        f'dominant-baseline="hanging" font-size="11" fill="currentColor">partial</text>'
    )


def _polyline(coords: list[tuple[float, float]], colour: str, cls: str, dash: str | None) -> str:
    points = " ".join(f"{a},{b}" for a, b in coords)
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<polyline class="{cls}" points="{points}" fill="none" stroke="{colour}" '
        f'stroke-width="2"{dashes}/>'
    )


def _points_layer(
    lines: Sequence[Line],
    metric: str,
    weeks: bool,
    x: Callable[[int], float],
    y: Callable[[int], float],
    chart_id: str,
) -> str:
    out = [
        f'<svg class="chart-points" viewBox="0 0 {WIDTH} {HEIGHT}" role="group" '
        f'aria-label="Data points of the chart: {escape(metric)}" data-chart="{chart_id}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    if len(lines) > MAX_POINT_SERIES:
        out.extend(_columns(lines, metric, weeks, x))
        out.append("</svg>")
        return "".join(out)
    # a year of weeks for ten repositories is 530 points: each says only what is its own (the
    # series' colours sit on its group), which keeps such a page well under 200 KB
    for n, line in enumerate(lines):
        colour = PALETTE[n % len(PALETTE)]
        out.append(f'<g fill="{colour}" stroke="{colour}" stroke-width="2">')
        for i, point in enumerate(line.points):
            text = (
                f"{line.label}, {period_label(point.start, weeks)}"
                f"{' (partial)' if point.partial else ''}: {number(point.value)} {metric.lower()}"
            )
            hollow = ' fill="#ffffff"' if point.partial else ""
            out.append(
                f'<circle class="pt" tabindex="0" role="img" cx="{x(i)}" cy="{y(point.value)}" '
                f'r="4"{hollow} data-value="{point.value}" aria-label="{escape(text)}"/>'
            )
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def _columns(
    lines: Sequence[Line], metric: str, weeks: bool, x: Callable[[int], float]
) -> list[str]:
    """One focusable column per period (for many series): its label names the period's
    largest values and points to the table for the rest."""
    periods = lines[0].points
    slot = (WIDTH - LEFT - RIGHT) / max(len(periods), 1)
    out = []
    for i, point in enumerate(periods):
        values = sorted(
            ((line.points[i].value, line.label) for line in lines), key=lambda v: (-v[0], v[1])
        )
        largest = ", ".join(f"{label} {number(value)}" for value, label in values[:COLUMN_TOP])
        text = (
            f"{period_label(point.start, weeks)}{' (partial)' if point.partial else ''}, "
            f"{metric.lower()}: {largest}; all {len(lines)} in the table below"
        )
        out.append(
            f'<rect class="pt col" tabindex="0" role="img" x="{x(i) - slot / 2:.1f}" '
            f'y="{TOP}" width="{slot:.1f}" height="{HEIGHT - TOP - BOTTOM}" '
            f'fill="currentColor" fill-opacity="0" aria-label="{escape(text)}"/>'
        )
    return out
