"""A headline's change on the overview (``templates/headline_change.html``, the macro the page
renders each card's change with): a change that rounds to 0% has no sign and no direction."""

from __future__ import annotations

import re

import pytest

from pullstats.api.dashboard.overview_data import Headline
from pullstats.api.dashboard.templating import environment

pytestmark = pytest.mark.xdist_group("web")


def _card_change(value: int, previous: int) -> tuple[str, str]:
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
