"""A headline's change on the overview (``templates/headline_change.html``, the macro the page
renders each card's change with): a change that rounds to 0% has no sign and no direction; a
distinct count's mean is compared exactly and rounded only where it is shown."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from pullstats.api.dashboard.headline import Headline, shown
from pullstats.api.dashboard.templating import environment

pytestmark = pytest.mark.xdist_group("web")


def _card_change(value: int | Fraction, previous: int | Fraction) -> tuple[str, str]:
    """The span's classes and text for ``value`` against ``previous``."""
    macro = environment.get_template("headline_change.html").module.change_text  # type: ignore[attr-defined]
    html = str(macro(Headline("Pulls", value, previous), "2 months"))
    found = re.fullmatch(r'\s*<span class="([^"]+)">([^<]+)</span>\s*', html)
    assert found is not None, html
    return found.group(1), found.group(2)


@pytest.mark.parametrize(
    ("value", "previous", "classes", "text"),
    [
        (1000, 1001, "card-change", "±0% vs. previous 2 months (1,001)"),  # -0.1%: not "-0%"
        (1001, 1000, "card-change", "±0% vs. previous 2 months (1,000)"),
        (1000, 1000, "card-change", "±0% vs. previous 2 months (1,000)"),
        (1100, 1000, "card-change up", "+10% vs. previous 2 months (1,000)"),
        (990, 1000, "card-change down", "-1% vs. previous 2 months (1,000)"),
        (5, 1, "card-change up", "+400% vs. previous 2 months (1)"),
    ],
)
def test_a_change_that_rounds_to_zero_has_no_direction(
    value: int, previous: int, classes: str, text: str
) -> None:
    assert _card_change(value, previous) == (classes, text)


@pytest.mark.parametrize(
    ("value", "previous", "classes", "text"),
    [
        # months of 10, 18 and 16 users against 0, 7 and 9: 44/3 against 16/3 is +175%, which
        # the rounded means (15 against 5) made +200%
        (Fraction(44, 3), Fraction(16, 3), "card-change up", "+175% vs. previous 2 months (5.3)"),
        # 4 and 3 against 4 and 5: a fall of 22%, which rounding both to 4 showed as flat
        (Fraction(7, 2), Fraction(9, 2), "card-change down", "-22% vs. previous 2 months (4.5)"),
        # one user in three months before: a change, not "previous: 0"
        (Fraction(5, 3), Fraction(1, 3), "card-change up", "+400% vs. previous 2 months (0.3)"),
    ],
)
def test_the_change_of_distinct_counts_is_of_their_exact_means(
    value: Fraction, previous: Fraction, classes: str, text: str
) -> None:
    assert _card_change(value, previous) == (classes, text)


@pytest.mark.parametrize(
    ("figure", "text"),
    [
        (1234567, "1,234,567"),
        (Fraction(6, 2), "3"),  # a mean that is whole shows no decimal
        (Fraction(83, 2), "41.5"),
        (Fraction(141, 2), "70.5"),  # halves of either parity stay halves
        (Fraction(1, 4), "0.3"),  # and at the second decimal are rounded up, never to even
        (Fraction(3, 4), "0.8"),
        (Fraction(2469, 2), "1,234.5"),
        (Fraction(0), "0"),
    ],
)
def test_a_mean_shows_one_decimal_rounded_half_up(figure: int | Fraction, text: str) -> None:
    assert shown(figure) == text
