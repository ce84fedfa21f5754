"""The subscriber list's chart, laid out on the server: numbers in, coordinates out.

templates/admin/newsletter/subscriber/growth_chart.html draws it as inline SVG
(no script, colours from the admin's CSS variables, so dark mode follows). Two
panels share the months: above, the confirmed subscribers at each month's end
as a line; below, those who joined (bars up) and left (bars down) that month.
"""

from dataclasses import dataclass

from core.charts import nice_ceiling
from newsletter.selectors import MonthCount

WIDTH = 480
PLOT_LEFT = 44
PLOT_RIGHT = WIDTH - 10
# Line panel, then bar panel, then the month labels (SVG units).
LINE_TOP, LINE_BOTTOM = 30, 122
BARS_TOP, BARS_BOTTOM = 170, 262
LABEL_Y = 280
YEAR_Y = 296
HEIGHT = 304
BAR_SHARE = 0.6  # of each month's slot; the rest is the gap
# Whether a month's year is shown (on wide screens, on narrow ones): where.
YEAR_WHERE = {
    (True, True): "all",
    (True, False): "wide",
    (False, True): "narrow",
    (False, False): "",
}


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class Column:
    month: MonthCount
    x: float  # centre of the month's slot
    bar_x: float
    bar_width: float
    joined_y: float
    joined_height: float
    left_y: float
    left_height: float
    point_y: float
    label: str
    minor: bool  # month name hidden on narrow screens
    # The year, under the first month named and under January: "" for none;
    # year_where says on which screens ("wide", "narrow" or "all").
    year: str
    year_where: str


@dataclass(frozen=True)
class Chart:
    columns: list[Column]
    points: str  # the line's "x,y x,y ..."
    total_ticks: list[Tick]
    bar_ticks: list[Tick]
    zero_y: float
    joined: int  # over all the months
    left: int
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = PLOT_LEFT
    plot_right: int = PLOT_RIGHT
    line_top: int = LINE_TOP
    line_bottom: int = LINE_BOTTOM
    bars_top: int = BARS_TOP
    bars_bottom: int = BARS_BOTTOM
    label_y: int = LABEL_Y
    year_y: int = YEAR_Y

    @property
    def is_empty(self) -> bool:
        """Nobody confirmed in or before these months: nothing to draw."""
        return not any(c.month.total or c.month.left for c in self.columns)

    @property
    def first(self) -> MonthCount:
        return self.columns[0].month

    @property
    def last(self) -> MonthCount:
        return self.columns[-1].month


def _round(value: float) -> float:
    return round(value, 1)


def layout(months: list[MonthCount]) -> Chart:
    """Where everything goes, for months in order (at least one)."""
    slot = (PLOT_RIGHT - PLOT_LEFT) / len(months)
    total_top = nice_ceiling(max(m.total for m in months))
    line_scale = (LINE_BOTTOM - LINE_TOP) / total_top
    # Joined up, left down, from a line in the middle: one scale for both, so
    # bars compare across it.
    bars_top = nice_ceiling(max(max(m.joined, m.left) for m in months))
    bar_scale = (BARS_BOTTOM - BARS_TOP) / (2 * bars_top)
    zero_y = (BARS_TOP + BARS_BOTTOM) / 2
    # On a phone every other month is named, always including the last.
    minor = [(len(months) - 1 - index) % 2 == 1 for index in range(len(months))]
    first_named = minor.index(False)
    columns = []
    for index, month in enumerate(months):
        wide = index == 0 or month.start.month == 1
        narrow = index == first_named or (month.start.month == 1 and not minor[index])
        where = YEAR_WHERE[wide, narrow]
        x = PLOT_LEFT + slot * (index + 0.5)
        joined_height = month.joined * bar_scale
        left_height = month.left * bar_scale
        columns.append(
            Column(
                month=month,
                x=_round(x),
                bar_x=_round(x - slot * BAR_SHARE / 2),
                bar_width=_round(slot * BAR_SHARE),
                joined_y=_round(zero_y - joined_height),
                joined_height=_round(joined_height),
                left_y=_round(zero_y),
                left_height=_round(left_height),
                point_y=_round(LINE_BOTTOM - month.total * line_scale),
                label=month.start.strftime("%b"),
                minor=minor[index],
                year=str(month.start.year) if where else "",
                year_where=where,
            )
        )
    total_ticks = [Tick(y=LINE_BOTTOM, value=0), Tick(y=LINE_TOP, value=total_top)]
    if total_top % 2 == 0:
        middle = (LINE_TOP + LINE_BOTTOM) / 2
        total_ticks.insert(1, Tick(y=_round(middle), value=total_top // 2))
    return Chart(
        columns=columns,
        points=" ".join(f"{c.x},{c.point_y}" for c in columns),
        total_ticks=total_ticks,
        bar_ticks=[
            Tick(y=BARS_TOP, value=bars_top),
            Tick(y=_round(zero_y), value=0),
            Tick(y=BARS_BOTTOM, value=bars_top),  # left: counted downwards
        ],
        zero_y=_round(zero_y),
        joined=sum(m.joined for m in months),
        left=sum(m.left for m in months),
    )
