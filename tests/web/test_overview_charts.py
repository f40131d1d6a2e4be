"""The overview's SVG chart, read back as XML: axes, ticks, points, values, the partial period
and what assistive technology is given."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from pullstats.api.dashboard import charts
from pullstats.api.dashboard.chart_labels import GAP, TIERS, text_width
from pullstats.api.dashboard.charts import (
    legend_swatch,
    line_chart,
    nice_axis,
    period_label,
    series_style,
    short_number,
)
from pullstats.api.dashboard.overview_data import Line, Point

NS = {"s": "http://www.w3.org/2000/svg"}


def months(values: list[int], partial: bool = True) -> list[Point]:
    starts = ["2025-11-01", "2025-12-01", "2026-01-01", "2026-02-01"][: len(values)]
    return [
        Point(f"{s}T00:00:00Z", "", v, partial and i == len(values) - 1)
        for i, (s, v) in enumerate(zip(starts, values, strict=True))
    ]


def parse(markup: str) -> tuple[ET.Element, ET.Element]:
    root = ET.fromstring(f'<div xmlns:svg="http://www.w3.org/2000/svg">{markup}</div>')
    drawing, points = root.findall("s:svg", NS)
    return drawing, points


def texts(svg: ET.Element, cls: str) -> list[str]:
    drawn = svg.iter(f"{{{NS['s']}}}text")
    return [e.text or "" for e in drawn if cls in (e.get("class") or "").split()]


def test_a_chart_of_two_series_has_labelled_axes_ticks_and_every_point() -> None:
    lines = [Line("acme/api", months([120, 340, 95, 12])), Line("acme/web", months([0, 5, 7, 1]))]
    drawing, layer = parse(line_chart(lines, metric="Pulls", weeks=False))
    assert drawing.get("role") == "img"
    assert drawing.find("s:title", NS).text == "Pulls per month"  # type: ignore[union-attr]
    desc = drawing.find("s:desc", NS).text or ""  # type: ignore[union-attr]
    assert "acme/api, acme/web, Nov 2025 to Feb 2026" in desc
    assert "The last month is not over yet" in desc
    assert texts(drawing, "x-title") == ["Month (UTC)"]
    assert texts(drawing, "y-title") == ["Pulls per month"]
    assert texts(drawing, "x-tick") == ["Nov 2025", "Dec 2025", "Jan 2026", "Feb 2026"]
    # largest 340 → steps of 100 (340 / 4 = 85 → 100) up to 400
    assert texts(drawing, "y-tick") == ["0", "100", "200", "300", "400"]
    assert texts(drawing, "partial-label") == ["partial"]
    # one solid line over the complete months and one dashed step to the partial one, per series
    lines_drawn = [e for e in drawing.iter(f"{{{NS['s']}}}polyline")]
    assert [e.get("class") for e in lines_drawn] == ["series", "series partial"] * 2
    circles = list(layer.iter(f"{{{NS['s']}}}circle"))
    assert len(circles) == 8
    assert [c.get("data-value") for c in circles] == ["120", "340", "95", "12", "0", "5", "7", "1"]
    assert all(c.get("tabindex") == "0" for c in circles)
    assert circles[1].get("aria-label") == "acme/api, Dec 2025: 340 pulls"
    assert circles[3].get("aria-label") == "acme/api, Feb 2026 (partial): 12 pulls"
    assert layer.get("role") == "group"
    # the highest point sits on the top tick's line: 340 of 400
    top = [e for e in drawing.iter(f"{{{NS['s']}}}line") if e.get("class") == "grid"][-1]
    assert float(circles[1].get("cy", 0)) > float(top.get("y1", 0))


def weeks(count: int) -> list[Point]:
    """``count`` weeks from Monday 2025-12-01 (2025-W49), the last one partial."""
    start = date(2025, 12, 1)
    return [
        Point(f"{start + timedelta(weeks=i)}T00:00:00Z", "", i, i == count - 1)
        for i in range(count)
    ]


def ticks_of(svg: ET.Element, tier: str) -> list[tuple[str, float, str]]:
    """The x labels ``tier`` draws: text, x and anchor."""
    return [
        (e.text or "", float(e.get("x", 0)), e.get("text-anchor", ""))
        for e in svg.iter(f"{{{NS['s']}}}text")
        if {"x-tick", tier} <= set((e.get("class") or "").split())
    ]


def test_a_year_of_weeks_names_every_seventh_back_from_the_current_one() -> None:
    # 53 weeks over the plot's 632 units: 11.92 a week. "2026-W49" at 11 units is taken as
    # (6 digits × .64 + "-" .37 + "W" 1.0) × 11 = 57.3 wide. The current week's centre,
    # 714.0, would put its end past the SVG's 720: it ends at the edge less .15 em, 718.35,
    # so it starts at 661.0. Every sixth back, week 46 would end at 626.5 + 28.7 = 655.2,
    # less than .6 em (6.6) before it; every seventh fits. Before, every fifth from the first
    # and the last were drawn: W47 over W49, and W49 past the edge.
    drawing, _ = parse(line_chart([Line("acme", weeks(53))], metric="Unique IPs", weeks=True))
    wide = ticks_of(drawing, "wide")
    assert [text for text, _, _ in wide] == [
        "2025-W52",
        "2026-W07",
        "2026-W14",
        "2026-W21",
        "2026-W28",
        "2026-W35",
        "2026-W42",
        "2026-W49",
    ]
    assert wide[-1][1:] == (718.4, "end") and wide[0][1:] == (113.7, "middle")
    # a phone draws the text at 24 units: 125 wide, so fewer labels, still the current week's
    phone = [text for text, _, _ in ticks_of(drawing, "phone")]
    assert len(phone) < len(wide) and phone[-1] == "2026-W49"
    assert texts(drawing, "y-title") == ["Unique IPs per week"]
    assert texts(drawing, "partial-label") == ["partial"]


@pytest.mark.parametrize("count", [1, 2, 5, 9, 13, 14, 26, 27, 52, 53, 60])
@pytest.mark.parametrize("in_weeks", [True, False], ids=["weeks", "months"])
def test_at_every_text_size_the_x_labels_fit_apart_inside_the_svg(
    count: int, in_weeks: bool
) -> None:
    if in_weeks:
        points = weeks(count)
    else:
        starts = [f"{2021 + i // 12}-{i % 12 + 1:02d}-01" for i in range(count)]
        points = [Point(start, "", i, False) for i, start in enumerate(starts)]
    drawing, _ = parse(line_chart([Line("acme", points)], metric="Pulls", weeks=in_weeks))
    for tier in TIERS:
        drawn = ticks_of(drawing, tier.name)
        assert drawn and drawn[-1][0] == period_label(points[-1].start, in_weeks)
        spans = []
        for text, x, anchor in drawn:
            width = text_width(text, tier.font)
            left = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
            spans.append((left, left + width))
        # from the y axis (left of it are the tick values) to the SVG's right edge
        assert spans[0][0] >= 72 and spans[-1][1] <= 720, (tier, spans)
        assert all(b[0] - a[1] >= GAP * tier.font - 0.1 for a, b in pairwise(spans)), tier


def test_the_stylesheet_sizes_the_text_and_picks_the_labels_of_each_tier() -> None:
    css = (Path(charts.__file__).parent / "static" / "overview.css").read_text()
    assert ".chart .x-tick:not(.wide) { display: none; }" in css
    for tier in TIERS[1:]:
        assert (
            f"@media (max-width: {tier.max_width}) {{\n"
            f"  .chart text {{ font-size: {tier.font}px; }}\n"
            f"  .chart .x-tick.{tier.name} {{ display: inline; }}\n"
            f"  .chart .x-tick:not(.{tier.name}) {{ display: none; }}\n}}"
        ) in css, tier


def test_an_all_zero_chart_still_has_an_axis() -> None:
    drawing, layer = parse(line_chart([Line("acme", months([0, 0]))], metric="Pulls", weeks=False))
    assert texts(drawing, "y-tick") == ["0", "1"]
    assert len(list(layer.iter(f"{{{NS['s']}}}circle"))) == 2


def test_labels_are_escaped() -> None:
    markup = line_chart([Line("<b>&", months([1]))], metric="Pulls", weeks=False)
    assert "<b>" not in markup and "&lt;b&gt;&amp;" in markup


@pytest.mark.parametrize(
    ("largest", "ticks"),
    [
        (1, [0, 1]),
        (7, [0, 2, 4, 6, 8]),
        (10, [0, 5, 10]),
        (999, [0, 500, 1000]),
        (4000, [0, 1000, 2000, 3000, 4000]),
    ],
)
def test_nice_axes(largest: int, ticks: list[int]) -> None:
    assert nice_axis(largest).ticks == ticks


def test_number_and_period_labels() -> None:
    assert [short_number(n) for n in (950, 12_000, 1_500_000)] == ["950", "12k", "1.5M"]
    assert period_label("2026-12-28T00:00:00Z", weeks=True) == "2026-W53"
    assert period_label("2026-03-01T00:00:00Z", weeks=False) == "Mar 2026"


def test_past_ten_series_each_period_is_one_column_naming_its_largest_values() -> None:
    # twelve repositories over four months; repo-k pulls k+1 times the month's number
    lines = [
        Line(f"acme/repo-{k:02d}", months([(k + 1) * m for m in (1, 2, 3, 4)])) for k in range(12)
    ]
    _, layer = parse(line_chart(lines, metric="Pulls", weeks=False))
    assert list(layer.iter(f"{{{NS['s']}}}circle")) == []  # 48 points would each be one
    columns = list(layer.iter(f"{{{NS['s']}}}rect"))
    assert [c.get("class") for c in columns] == ["pt col"] * 4
    assert all(c.get("tabindex") == "0" for c in columns)
    # Dec 2025 is the second month: repo-11 pulled 12 × 2 = 24, repo-10 22, … repo-07 16
    assert columns[1].get("aria-label") == (
        "Dec 2025, pulls: acme/repo-11 24, acme/repo-10 22, acme/repo-09 20, acme/repo-08 18, "
        "acme/repo-07 16; all 12 in the table below"
    )
    assert columns[3].get("aria-label", "").startswith("Feb 2026 (partial), pulls: acme/repo-11 48")
    # the columns tile the plot: each a quarter of its width, side by side
    widths = {float(c.get("width", 0)) for c in columns}
    assert widths == {round((720 - 72 - 16) / 4, 1)}
    starts = [float(c.get("x", 0)) for c in columns]
    assert starts == sorted(starts) and starts[0] == 72.0


def test_ten_series_still_have_a_point_each() -> None:
    lines = [Line(f"acme/repo-{k}", months([k, k + 1])) for k in range(10)]
    _, layer = parse(line_chart(lines, metric="Pulls", weeks=False))
    assert len(list(layer.iter(f"{{{NS['s']}}}circle"))) == 20
    assert list(layer.iter(f"{{{NS['s']}}}rect")) == []


def test_past_the_eight_colours_a_line_is_told_apart_by_its_stroke() -> None:
    # fifty repositories may be selected: before, the ninth line was the first's twin
    lines = [Line(f"acme/r{n}", months([n, n + 1], partial=False)) for n in range(50)]
    drawing, _ = parse(line_chart(lines, metric="Pulls", weeks=False))
    drawn = [
        (e.get("stroke"), e.get("stroke-dasharray"))
        for e in drawing.iter(f"{{{NS['s']}}}polyline")
        if e.get("class") == "series"
    ]
    assert len(drawn) == 50 and len(set(drawn)) == 50
    assert drawn[8][0] == drawn[0][0] and drawn[0][1] is None and drawn[8][1] is not None
    assert drawn == [series_style(n) for n in range(50)]


def test_the_legend_draws_each_line_as_the_chart_does() -> None:
    for n in range(50):
        sample = ET.fromstring(str(legend_swatch(n))).find("s:line", NS)
        assert sample is not None
        assert (sample.get("stroke"), sample.get("stroke-dasharray")) == series_style(n)
