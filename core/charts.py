"""Charts laid out on the server: numbers in, coordinates out, drawn by a template
as inline SVG (no script; colours from the admin's CSS variables, so dark mode
follows). The admin's daily charts share this: a bar a day, and the part of it
that stands out (searches that found nothing, say) drawn over it from the bottom.

templates/admin/charts/daily_bars.html draws a DailyChart; the numbers go in a
table beside it as well.
"""

import math
from dataclasses import dataclass
from datetime import date

WIDTH = 480
HEIGHT = 220
PLOT_LEFT = 44
PLOT_RIGHT = WIDTH - 10
PLOT_TOP = 16
PLOT_BOTTOM = 180
LABEL_Y = 198
BAR_SHARE = 0.7  # of each day's slot; the rest is the gap
# At most this many days are named under the bars; the last always is.
MAX_LABELS = 8


@dataclass(frozen=True)
class DailyValue:
    day: date
    total: int
    part: int = 0  # of the total, drawn over its bar


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class Bar:
    value: DailyValue
    x: float  # centre of the day's slot
    bar_x: float
    bar_width: float
    total_y: float
    total_height: float
    part_y: float
    part_height: float
    label: str  # "" when the day is not named


@dataclass(frozen=True)
class DailyChart:
    bars: list[Bar]
    ticks: list[Tick]
    total: int
    part: int
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = PLOT_LEFT
    plot_right: int = PLOT_RIGHT
    plot_top: int = PLOT_TOP
    plot_bottom: int = PLOT_BOTTOM
    label_y: int = LABEL_Y

    @property
    def is_empty(self) -> bool:
        return self.total == 0

    @property
    def first(self) -> date:
        return self.bars[0].value.day

    @property
    def last(self) -> date:
        return self.bars[-1].value.day


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


def daily_bars(values: list[DailyValue]) -> DailyChart:
    """Where everything goes, for consecutive days in order (at least one)."""
    slot = (PLOT_RIGHT - PLOT_LEFT) / len(values)
    top = nice_ceiling(max(v.total for v in values))
    scale = (PLOT_BOTTOM - PLOT_TOP) / top
    every = math.ceil(len(values) / MAX_LABELS)
    bars = []
    for index, value in enumerate(values):
        x = PLOT_LEFT + slot * (index + 0.5)
        total_height = value.total * scale
        part_height = min(value.part, value.total) * scale
        named = (len(values) - 1 - index) % every == 0
        bars.append(
            Bar(
                value=value,
                x=_round(x),
                bar_x=_round(x - slot * BAR_SHARE / 2),
                bar_width=_round(slot * BAR_SHARE),
                total_y=_round(PLOT_BOTTOM - total_height),
                total_height=_round(total_height),
                part_y=_round(PLOT_BOTTOM - part_height),
                part_height=_round(part_height),
                label=f"{value.day.day} {value.day:%b}" if named else "",
            )
        )
    ticks = [Tick(y=PLOT_BOTTOM, value=0), Tick(y=PLOT_TOP, value=top)]
    if top % 2 == 0:
        ticks.insert(1, Tick(y=_round((PLOT_TOP + PLOT_BOTTOM) / 2), value=top // 2))
    return DailyChart(
        bars=bars,
        ticks=ticks,
        total=sum(v.total for v in values),
        part=sum(v.part for v in values),
    )
