"""The overview's chart as the browser lays it out, from a phone to a desktop: the x-axis
labels stay inside the chart and apart, and the chart's text stays legible.

Measured on acme's weekly and monthly charts of the last twelve months (53 weeks, 13 months:
the longest the page draws), through the harness of ``tests/web/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pullstats.api.dashboard.charts import period_label
from pullstats.periods import last_complete_months
from tests.web.conftest import DESKTOP, PHONE, SignedInPage, Web, outside_requests, screenshot

pytestmark = pytest.mark.xdist_group("web")

#: a small phone, the phone of the other tests, a tablet between two text sizes, a desktop
WIDTHS = [360, PHONE["width"], 700, DESKTOP["width"]]

#: every text of the chart drawn on the page: its class, its box, and its size on the screen
#: (the computed size in the viewBox's units times the SVG's scale)
_TEXTS = """() => {
  const svg = document.querySelector("svg.chart");
  const box = (r) => ({left: r.left, top: r.top, right: r.right, bottom: r.bottom});
  const texts = Array.from(svg.querySelectorAll("text"))
    .filter((t) => t.getClientRects().length > 0)
    .map((t) => {
      const m = t.getScreenCTM();
      return {
        cls: t.getAttribute("class"),
        text: t.textContent,
        box: box(t.getBoundingClientRect()),
        px: parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b),
      };
    });
  return {svg: box(svg.getBoundingClientRect()), texts};
}"""


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0.5 and (
        min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.5
    )


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["left"] >= outer["left"] - 0.5
        and inner["right"] <= outer["right"] + 0.5
        and inner["top"] >= outer["top"] - 0.5
        and inner["bottom"] <= outer["bottom"] + 0.5
    )


@pytest.mark.parametrize("width", WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def test_the_chart_text_is_inside_apart_and_legible(
    web: Web, session_page: SignedInPage, width: int, tmp_path: Path
) -> None:
    page = session_page("alice", viewport={"width": width, "height": 900})
    this_week = period_label(web.days["today"].isoformat(), weeks=True)
    this_month = period_label(web.days["today"].isoformat(), weeks=False)
    first_month = period_label(last_complete_months(web.days["today"], 12)[0].isoformat(), False)
    for timespan, current in (("weeks", this_week), ("months", this_month)):
        page.goto(f"/?namespace=acme&timespan={timespan}&period=last-12-months")
        drawn: dict[str, Any] = page.evaluate(_TEXTS)
        texts, svg = drawn["texts"], drawn["svg"]
        ticks = [t for t in texts if "x-tick" in t["cls"].split()]
        where = f"{timespan} at {width} px: {[(t['text'], t['box']) for t in ticks]}"
        # thinned, not emptied: the current period is always named, and a few more
        assert len(ticks) >= 4 and ticks[-1]["text"] == current, where
        if timespan == "months" and width >= 700:
            assert ticks[0]["text"] == first_month, where  # every second month
        for text in texts:
            assert _inside(text["box"], svg), f"{text['text']} leaves the chart: {where}"
            assert text["px"] >= 11, f"{text['text']} is {text['px']:.1f} px at {width} px"
        for n, text in enumerate(texts):
            for other in texts[n + 1 :]:
                assert not _overlap(text["box"], other["box"]), (text, other)
        screenshot(page, tmp_path, f"chart-{timespan}-{width}")
    assert outside_requests(page) == []
