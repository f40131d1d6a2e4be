"""A headline figure of the overview (``overview_data.py`` computes them, ``overview.html`` and
``headline_change.html`` show them): a total, or the exact mean of each period's distinct count,
and the change against the range before."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction


@dataclass(frozen=True)
class Headline:
    """A headline figure of the range and of the range before it: a total (an int), or the
    exact mean of each period's distinct count (a Fraction, rounded only where it is shown, so
    the change is the change of the means)."""

    label: str
    value: int | Fraction | None  # None: cannot be given for this selection (a distinct count)
    previous: int | Fraction | None
    note: str = ""

    @property
    def change(self) -> float | None:
        """The change against the previous range, as a fraction; None when there was none."""
        if self.value is None or not self.previous:
            return None
        return float((self.value - self.previous) / self.previous)

    @property
    def value_text(self) -> str:
        return shown(self.value or 0)

    @property
    def previous_text(self) -> str:
        return shown(self.previous or 0)


def shown(figure: int | Fraction) -> str:
    """A headline figure as the page shows it: a whole number with thousands separators, a
    mean that is not one with one decimal, halves rounded up (``0.25`` is ``0.3``)."""
    if isinstance(figure, int) or figure.denominator == 1:
        return f"{int(figure):,}"
    tenths = (Decimal(figure.numerator) / Decimal(figure.denominator)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    return f"{tenths:,}"
