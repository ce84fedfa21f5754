"""The daily bar chart laid out on the server (core/charts.py)."""

from datetime import date, timedelta

from core.charts import PLOT_BOTTOM, PLOT_TOP, DailyValue, daily_bars, nice_ceiling


def days(totals: list[tuple[int, int]]) -> list[DailyValue]:
    start = date(2026, 11, 1)
    return [
        DailyValue(day=start + timedelta(days=n), total=total, part=part)
        for n, (total, part) in enumerate(totals)
    ]


def test_bars_are_scaled_to_a_round_top_and_the_part_sits_inside_its_bar():
    chart = daily_bars(days([(0, 0), (7, 2), (10, 10), (3, 0)]))
    assert [t.value for t in chart.ticks] == [0, 5, 10]
    empty, some, full, few = chart.bars
    assert few.total_height < some.total_height
    assert empty.total_height == 0 and empty.total_y == PLOT_BOTTOM
    assert full.total_y == PLOT_TOP and full.part_height == full.total_height
    assert some.part_y == PLOT_BOTTOM - some.part_height
    assert some.part_height < some.total_height
    assert (chart.total, chart.part) == (20, 12)


def test_at_most_eight_days_are_named_and_the_last_always_is():
    chart = daily_bars(days([(1, 0)] * 90))
    named = [b.label for b in chart.bars if b.label]
    assert 1 <= len(named) <= 8
    assert chart.bars[-1].label == "29 Jan"
    assert all(b.label for b in daily_bars(days([(1, 0)] * 7)).bars)


def test_a_period_with_nothing_counted_is_empty_not_an_error():
    chart = daily_bars(days([(0, 0)] * 30))
    assert chart.is_empty
    assert chart.ticks[-1].value == 1


def test_nice_ceilings():
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 11, 40, 51)] == [
        1,
        1,
        5,
        10,
        20,
        50,
        100,
    ]
