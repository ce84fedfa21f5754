"""The month and week grids of the admin calendar: which days each shows (weeks
start on Monday), and each day's entries in order.

Days are in the site's time zone (settings.TIME_ZONE): a publish or a send at a
time falls on the local day of that time.
"""

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone

from core.calendar.sources import Entry

MONTH = "month"
WEEK = "week"
# A month's day shows this many entries and "+ K more", linking to its week:
# a month of 2,000 entries stays a page of a few hundred links.
MONTH_DAY_MAX = 6


@dataclass
class Day:
    day: date
    in_period: bool
    today: bool
    entries: list[Entry] = field(default_factory=list)
    hidden: int = 0

    @property
    def anchor(self) -> str:
        return f"day-{self.day.isoformat()}"


@dataclass
class Grid:
    view: str
    anchor: date  # the day the view was asked for
    start: date  # the first day shown (a Monday)
    end: date  # the last day shown (a Sunday)
    weeks: list[list[Day]]
    title: str
    previous: date
    next: date


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_bounds(day: date) -> tuple[date, date]:
    """The Monday on or before the month's first day, the Sunday on or after its
    last: whole weeks."""
    first = day.replace(day=1)
    last = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    return monday_of(first), monday_of(last) + timedelta(days=6)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period(view: str, anchor: date) -> tuple[date, date]:
    """The first and last day the view of `anchor` shows."""
    if view == WEEK:
        start = monday_of(anchor)
        return start, start + timedelta(days=6)
    return month_bounds(anchor)


def local_days() -> Callable[[datetime], date]:
    """The day of a time in the site's time zone, for many times in a row: the
    zone looked up once."""
    zone = timezone.get_current_timezone()
    return lambda moment: moment.astimezone(zone).date()


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the site's time zone, aware."""
    return timezone.make_aware(datetime.combine(day, time.min))


def on_days(field: str, start: date, end: date) -> Q:
    """A date-time `field` falling on a day from `start` to `end`, both included,
    in the site's time zone."""
    return Q(
        **{
            f"{field}__gte": day_start(start),
            f"{field}__lt": day_start(end + timedelta(days=1)),
        }
    )


def entry_order(entry: Entry) -> tuple:
    # Dates before times, then by time, then by title.
    return (entry.at is not None, entry.at.timestamp() if entry.at else 0, entry.title)


def build(view: str, anchor: date, entries: list[Entry], today: date) -> Grid:
    """The grid of `view` around `anchor` holding `entries` (those of its days;
    others are ignored)."""
    start, end = period(view, anchor)
    by_day: dict[date, list[Entry]] = {}
    for entry in entries:
        if start <= entry.day <= end:
            by_day.setdefault(entry.day, []).append(entry)
    limit = MONTH_DAY_MAX if view == MONTH else None
    weeks = []
    day = start
    while day <= end:
        week = []
        for _ in range(7):
            shown = sorted(by_day.get(day, []), key=entry_order)
            in_period = day.month == anchor.month if view == MONTH else True
            cell = Day(day=day, in_period=in_period, today=day == today)
            if limit is not None and len(shown) > limit:
                cell.hidden = len(shown) - limit
                shown = shown[:limit]
            cell.entries = shown
            week.append(cell)
            day += timedelta(days=1)
        weeks.append(week)
    if view == WEEK:
        title = f"Week of {start.day} {start:%B %Y}"
        previous, following = anchor - timedelta(days=7), anchor + timedelta(days=7)
    else:
        title = f"{anchor:%B %Y}"
        previous, following = add_months(anchor, -1), add_months(anchor, 1)
    return Grid(
        view=view,
        anchor=anchor,
        start=start,
        end=end,
        weeks=weeks,
        title=title,
        previous=previous,
        next=following,
    )
