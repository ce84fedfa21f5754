"""Charts laid out on the server: numbers in, coordinates out, for admin templates
to draw as inline SVG (no script; colours from CSS, so dark mode follows).

`nice_ceiling` picks an axis top; `stacked_days` lays out one stacked bar per day
(templates/admin/includes/stacked_days_chart.html draws it).
"""

import math
from dataclasses import dataclass
from datetime import date

WIDTH = 480
PLOT_LEFT = 44
PLOT_RIGHT = WIDTH - 10
PLOT_TOP, PLOT_BOTTOM = 14, 170
LABEL_Y = 188
HEIGHT = 196
BAR_SHARE = 0.7  # of each day's slot; the rest is the gap
# Dated labels: a week apart, or whole weeks apart so no more than this many
# fit under the bars (the last day always has one).
MOST_LABELS = 6


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (1 for 0)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _round(value: float) -> float:
    return round(value, 1)


@dataclass(frozen=True)
class Series:
    key: str  # CSS class of its segments
    label: str


@dataclass(frozen=True)
class Segment:
    series: Series
    value: int
    y: float
    height: float


@dataclass(frozen=True)
class DayBar:
    day: date
    total: int
    values: list[int]  # one per series, in the chart's order
    x: float  # centre of the day's slot
    bar_x: float
    bar_width: float
    segments: list[Segment]  # bottom up, only those above zero
    label: str  # "" for days not labelled
    label_x: float
    label_anchor: str  # the last day's ends at the plot's edge, not past it


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class StackedDays:
    series: list[Series]
    bars: list[DayBar]
    ticks: list[Tick]
    totals: list[int]  # per series, over all the days
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = PLOT_LEFT
    plot_right: int = PLOT_RIGHT
    plot_top: int = PLOT_TOP
    plot_bottom: int = PLOT_BOTTOM
    label_y: int = LABEL_Y

    @property
    def total(self) -> int:
        return sum(self.totals)

    @property
    def is_empty(self) -> bool:
        return self.total == 0

    @property
    def first(self) -> date:
        return self.bars[0].day

    @property
    def last(self) -> date:
        return self.bars[-1].day

    @property
    def legend(self) -> list[tuple[Series, int]]:
        return list(zip(self.series, self.totals, strict=True))


def stacked_days(
    days: list[tuple[date, list[int]]], series: list[Series]
) -> StackedDays:
    """Where everything goes, for days in order (at least one), each with one
    value per series."""
    slot = (PLOT_RIGHT - PLOT_LEFT) / len(days)
    top = nice_ceiling(max(sum(values) for _, values in days))
    scale = (PLOT_BOTTOM - PLOT_TOP) / top
    every = 7 * max(1, math.ceil(len(days) / MOST_LABELS / 7))
    bars = []
    for index, (day, values) in enumerate(days):
        x = PLOT_LEFT + slot * (index + 0.5)
        segments, base = [], float(PLOT_BOTTOM)
        for one, value in zip(series, values, strict=True):
            if value:
                height = value * scale
                base -= height
                segments.append(Segment(one, value, _round(base), _round(height)))
        labelled = (len(days) - 1 - index) % every == 0
        bars.append(
            DayBar(
                day=day,
                total=sum(values),
                values=list(values),
                x=_round(x),
                bar_x=_round(x - slot * BAR_SHARE / 2),
                bar_width=_round(max(slot * BAR_SHARE, 0.5)),
                segments=segments,
                label=f"{day.day} {day:%b}" if labelled else "",
                label_x=PLOT_RIGHT if index == len(days) - 1 else _round(x),
                label_anchor="end" if index == len(days) - 1 else "middle",
            )
        )
    ticks = [Tick(y=PLOT_BOTTOM, value=0), Tick(y=PLOT_TOP, value=top)]
    if top % 2 == 0:
        ticks.insert(1, Tick(y=_round((PLOT_TOP + PLOT_BOTTOM) / 2), value=top // 2))
    totals = [sum(values[i] for _, values in days) for i in range(len(series))]
    return StackedDays(series=series, bars=bars, ticks=ticks, totals=totals)
