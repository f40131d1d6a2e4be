"""Where the chart's x-axis labels go, and which of them are drawn, at every text size.

The chart is an SVG with a fixed viewBox that the page scales to its width: at 375 px it is drawn
at half size, so its text is larger there in the viewBox's units (``TIERS``; the stylesheet
``static/overview.css`` sets those sizes by screen width). A label is as wide as its text at
the tier's size, so each tier keeps its own labels: every ``k``-th period back from the last
one (the current period is always named), ``k`` the smallest that leaves at least ``GAP`` em
between neighbours. A label that would cross the SVG's right edge, or start left of the y
axis (under the tick values), is pulled in and anchored there. Each label drawn names the
tiers it is drawn in as classes; the stylesheet hides the others. Nothing here shrinks text
to make it fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class Tier:
    """One text size of the chart: its class, its size in viewBox units, and the widest
    screen it is for (a CSS length; None: every screen wider than the next tier's)."""

    name: str
    font: int
    max_width: str | None


#: Widest screen first, as the stylesheet's media queries go. Sized so that the text is at
#: least 11 px on the screen from 360 px wide up: the chart box is the page's width less its
#: padding (at most 60rem), and the viewBox 720 units wide, so at 375 px (a 351 px box) a
#: 24-unit text is 11.7 px, and past 48rem (a box of 736 px or more) 11 units are 11.2 px.
TIERS = (
    Tier("wide", 11, None),
    Tier("mid", 14, "48rem"),
    Tier("small", 18, "40rem"),
    Tier("phone", 24, "30rem"),
)
#: The largest text size: the chart's margins are made to hold it.
LARGEST = max(tier.font for tier in TIERS)
#: The least space between two labels, and between a label and the SVG's edge, in em.
GAP = 0.6
EDGE = 0.15

#: Advance widths in em of the characters of period labels (``2026-W07``, ``Sep 2026``), at
#: the widest of the common sans fonts (DejaVu Sans, Debian's): measured narrower elsewhere,
#: a label only leaves more room than planned.
_WIDTHS = {"-": 0.37, " ": 0.32, "W": 1.0, "M": 0.87, "m": 0.98, "w": 0.82}
_DIGIT, _UPPER, _LOWER = 0.64, 0.78, 0.63


def text_width(text: str, font: float) -> float:
    """The width of ``text`` at ``font`` units (a slight overestimate, on purpose)."""
    em = 0.0
    for char in text:
        if char in _WIDTHS:
            em += _WIDTHS[char]
        elif char.isdigit():
            em += _DIGIT
        else:
            em += _UPPER if char.isupper() else _LOWER
    return em * font


@dataclass(frozen=True)
class Placed:
    """A label where it is drawn: the period's index, the x of its anchor, the anchor
    (``middle``, or ``start``/``end`` when pulled in from an edge), and its tiers' names."""

    index: int
    x: float
    anchor: str
    tiers: tuple[str, ...]


def _place(
    centre: float, width: float, font: int, bounds: tuple[float, float]
) -> tuple[float, str]:
    """The anchor of a label of ``width`` centred on ``centre``, kept inside ``bounds``."""
    low, high = bounds[0] + EDGE * font, bounds[1] - EDGE * font
    if centre + width / 2 > high:
        return round(high, 1), "end"
    if centre - width / 2 < low:
        return round(low, 1), "start"
    return centre, "middle"


def _span(x: float, anchor: str, width: float) -> tuple[float, float]:
    left = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
    return left, left + width


def _tier_labels(
    labels: Sequence[str], centre: Callable[[int], float], font: int, bounds: tuple[float, float]
) -> list[tuple[int, float, str]]:
    """The labels one tier draws: every k-th back from the last, k the least that fits."""
    count = len(labels)
    for step in range(1, count + 1):
        chosen = sorted(range(count - 1, -1, -step))
        placed = []
        for i in chosen:
            width = text_width(labels[i], font)
            x, anchor = _place(centre(i), width, font, bounds)
            placed.append((i, x, anchor, _span(x, anchor, width)))
        spans = [span for *_, span in placed]
        if all(b[0] - a[1] >= GAP * font for a, b in pairwise(spans)):
            return [(i, x, anchor) for i, x, anchor, _ in placed]
    return []


def x_labels(
    labels: Sequence[str], centre: Callable[[int], float], bounds: tuple[float, float]
) -> list[Placed]:
    """The x labels of every tier, ``centre(i)`` being the x of period ``i`` and ``bounds``
    the x range they must keep to (the y axis, the SVG's right edge): one per place, naming
    the tiers that draw it there, in the periods' order."""
    tiers: dict[tuple[int, float, str], list[str]] = {}
    for tier in TIERS:
        for key in _tier_labels(labels, centre, tier.font, bounds):
            tiers.setdefault(key, []).append(tier.name)
    return [Placed(i, x, anchor, tuple(names)) for (i, x, anchor), names in sorted(tiers.items())]
