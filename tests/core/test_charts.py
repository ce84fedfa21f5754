"""Charts laid out on the server (core/charts.py): numbers in, coordinates out."""

from datetime import date, timedelta

from core.charts import PLOT_BOTTOM, PLOT_TOP, Series, stacked_days


def test_the_chart_stacks_each_days_sources_on_one_scale():
    series = [Series("a", "A"), Series("b", "B")]
    days = [(date(2026, 1, 1) + timedelta(days=n), [n, 1]) for n in range(10)]
    chart = stacked_days(days, series)
    assert chart.totals == [45, 10]
    assert [tick.value for tick in chart.ticks] == [0, 5, 10]
    last = chart.bars[-1]
    assert [s.series.key for s in last.segments] == ["a", "b"]
    # 10 views fill the plot: the top of the last bar is its top.
    assert last.segments[-1].y == PLOT_TOP
    assert last.segments[0].y + last.segments[0].height == PLOT_BOTTOM
    # The first day has no "a": only its "b" segment is drawn.
    assert [s.series.key for s in chart.bars[0].segments] == ["b"]
    assert [bar.label for bar in chart.bars if bar.label] == ["3 Jan", "10 Jan"]


def test_a_year_has_few_enough_dated_labels_to_read():
    days = [(date(2026, 1, 1) + timedelta(days=n), [1]) for n in range(365)]
    chart = stacked_days(days, [Series("a", "A")])
    assert 4 <= len([bar for bar in chart.bars if bar.label]) <= 6
    assert chart.bars[-1].label == "31 Dec"
