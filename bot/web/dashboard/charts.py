"""The charts' geometry: horizontal bars and lines over time, as numbers the SVG templates (charts.html) draw.

Drawn on the server from the figures (no JavaScript, no third-party asset): they work on an office network with
no internet, print, and a test reads their numbers. Sizes and places are SVG attributes, which the
Content-Security-Policy allows (it forbids inline styles and scripts); colours come from the stylesheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.i18n import Translator
from bot.web.dashboard.rendering import number, percent

BAR_AREA = 480  # px: the longest bar of a chart
# A line chart's frame (px): the plot between the value labels on the left and the dates below.
WIDTH, LEFT, RIGHT, TOP, PLOT_HEIGHT, BELOW = 760, 56, 724, 12, 200, 36
MOST_DATES = 10  # dates written under a line chart; more points than that: every second, third... date
GRID_LINES = 4  # at most, above zero


@dataclass(frozen=True)
class Bar:
    """One bar of a horizontal bar chart: its label, value, shown value and geometry (SVG user units)."""

    label: str
    value: int
    shown: str
    y: int
    width: int


def bars(items: Sequence[tuple[str, int]], t: Translator, row: int = 28) -> list[Bar]:
    """Bars scaled to the largest value (a bar of a non-zero value is at least a sliver, so it shows)."""
    largest = max((value for _, value in items), default=0)
    return [
        Bar(
            label,
            value,
            number(value, t),
            index * row,
            0 if not value else max(2, round(BAR_AREA * value / largest)),
        )
        for index, (label, value) in enumerate(items)
    ]


def breakdown(lines: Sequence[tuple[str, str, int, int]], t: Translator) -> dict[str, object]:
    """What Wilayah and Pekerjaan show of their (key, label, leads, registered) lines: a table row each with its
    shares of the totals and its registrations per lead, the totals, and a bar chart of each figure."""
    leads, registered = sum(line[2] for line in lines), sum(line[3] for line in lines)
    rows = [
        {
            "key": key,
            "label": label,
            "leads": number(count, t),
            "leads_share": percent(count, leads, t),
            "registered": number(done, t),
            "registered_share": percent(done, registered, t),
            "conversion": percent(done, count, t),
        }
        for key, label, count, done in lines
    ]
    return {
        "rows": rows,
        "total": {"leads": number(leads, t), "registered": number(registered, t)},
        "lead_chart": bars([(label, count) for _, label, count, _ in lines], t),
        "registered_chart": bars([(label, done) for _, label, _, done in lines], t),
    }


@dataclass(frozen=True)
class Tick:
    """A grid line's height (y) and value, or a date's place (x) under the plot."""

    at: float
    shown: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str  # what a pointer resting on it shows, and a screen reader reads


@dataclass(frozen=True)
class Line:
    name: str  # what the line counts (a step), for the page and its tests
    label: str
    values: str  # the counts, space-separated, as the data-values attribute carries them
    points: str  # the polyline's "x,y x,y ..."
    dots: list[Point]


@dataclass(frozen=True)
class LineChart:
    lines: list[Line]
    grid: list[Tick]
    dates: list[Tick]
    width: int = WIDTH
    height: int = TOP + PLOT_HEIGHT + BELOW
    left: int = LEFT
    right: int = RIGHT
    bottom: int = TOP + PLOT_HEIGHT  # the zero line


def grid_step(largest: int, lines: int = GRID_LINES) -> int:
    """A round step for the grid, 1, 2 or 5 times a power of ten, giving at most `lines` lines above zero."""
    power = 1
    while True:
        for factor in (1, 2, 5):
            if power * factor * lines >= largest:
                return power * factor
        power *= 10


def lines(series: Sequence[tuple[str, str, Sequence[int]]], dates: Sequence[str], t: Translator) -> LineChart:
    """One line per (name, label, values), a value per date, over a grid of round numbers from zero."""
    largest = max((value for _, _, values in series for value in values), default=0)
    step = grid_step(largest)
    top = step * max(1, -(-largest // step))  # the grid's highest line: the largest value rounded up
    count = len(dates)

    def x(index: int) -> float:
        return round(LEFT + (RIGHT - LEFT) * (index / (count - 1) if count > 1 else 0.5), 1)

    def y(value: int) -> float:
        return round(TOP + PLOT_HEIGHT * (1 - value / top), 1)

    drawn = []
    for name, label, values in series:
        dots = [
            Point(x(i), y(value), t("dashboard.chart.point", line=label, at=dates[i], value=number(value, t)))
            for i, value in enumerate(values)
        ]
        points = " ".join(f"{dot.x},{dot.y}" for dot in dots)
        drawn.append(Line(name, label, " ".join(str(value) for value in values), points, dots))
    grid = [Tick(y(value), number(value, t)) for value in range(0, top + 1, step)]
    every = max(1, -(-count // MOST_DATES))
    shown = [Tick(x(i), date) for i, date in enumerate(dates) if i % every == 0]
    return LineChart(drawn, grid, shown)
