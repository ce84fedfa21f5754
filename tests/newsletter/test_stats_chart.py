"""The subscriber list's chart of confirmed subscribers: counted per month in the
database, laid out by a pure function, drawn as inline SVG."""

import re
from datetime import date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import dateformat, timezone

from newsletter import selectors
from newsletter.admin.growth_chart import (
    BARS_BOTTOM,
    BARS_TOP,
    LINE_BOTTOM,
    LINE_TOP,
    PLOT_LEFT,
    PLOT_RIGHT,
    layout,
    nice_ceiling,
)
from newsletter.models import Subscriber
from newsletter.selectors import MonthCount
from tests.factories import make_listed_subscriber

S = Subscriber.Status
NOW = timezone.make_aware(datetime(2026, 11, 20, 12, 0))


def at(year: int, month: int, day: int = 10) -> datetime:
    return timezone.make_aware(datetime(year, month, day, 9, 30))


# Values to coordinates (no database) ------------------------------------------------


def test_axis_tops_are_round_numbers_at_or_above_the_largest_value():
    assert [nice_ceiling(v) for v in (0, 1, 2, 3, 7, 10, 11, 36, 140, 5001)] == [
        1,
        1,
        2,
        5,
        10,
        10,
        20,
        50,
        200,
        10000,
    ]


def test_months_become_evenly_spaced_points_and_bars_around_a_middle_line():
    months = [
        MonthCount(date(2026, 9, 1), joined=10, left=0, total=10),
        MonthCount(date(2026, 10, 1), joined=12, left=2, total=20),
        MonthCount(date(2026, 11, 1), joined=0, left=5, total=15),
    ]
    chart = layout(months)

    slot = (PLOT_RIGHT - PLOT_LEFT) / 3
    assert [c.x for c in chart.columns] == [
        round(PLOT_LEFT + slot * (i + 0.5), 1) for i in range(3)
    ]
    # Totals on 0..20 (the round top above 20): 10 is half way, 20 the top.
    middle = (LINE_TOP + LINE_BOTTOM) / 2
    assert [c.point_y for c in chart.columns] == [
        middle,
        LINE_TOP,
        LINE_BOTTOM - 15 * (LINE_BOTTOM - LINE_TOP) / 20,
    ]
    assert chart.points == " ".join(f"{c.x},{c.point_y}" for c in chart.columns)
    assert [(t.y, t.value) for t in chart.total_ticks] == [
        (LINE_BOTTOM, 0),
        (middle, 10),
        (LINE_TOP, 20),
    ]
    # Bars: joined up and left down from the middle, on one scale (20 = half).
    zero = (BARS_TOP + BARS_BOTTOM) / 2
    unit = (BARS_BOTTOM - BARS_TOP) / 40
    assert chart.zero_y == zero
    assert [c.joined_height for c in chart.columns] == [
        round(10 * unit, 1),
        round(12 * unit, 1),
        0,
    ]
    assert [c.joined_y for c in chart.columns] == [
        round(zero - 10 * unit, 1),
        round(zero - 12 * unit, 1),
        zero,
    ]
    assert [c.left_height for c in chart.columns] == [0, round(2 * unit, 1), 11.5]
    assert {c.left_y for c in chart.columns} == {zero}
    assert [(t.y, t.value) for t in chart.bar_ticks] == [
        (BARS_TOP, 20),
        (zero, 0),
        (BARS_BOTTOM, 20),
    ]
    # Bars sit inside their month's slot.
    for column in chart.columns:
        assert column.bar_x > column.x - slot / 2
        assert column.bar_x + column.bar_width < column.x + slot / 2
    assert (chart.joined, chart.left) == (22, 7)
    assert (chart.first.total, chart.last.total) == (10, 15)


def test_labels_name_each_month_the_year_where_it_starts_and_the_last_always():
    months = [
        MonthCount(date(2025 + (m > 12), (m - 1) % 12 + 1, 1), 0, 0, 0)
        for m in range(12, 24)
    ]
    chart = layout(months)
    assert [c.label for c in chart.columns][:3] == ["Dec", "Jan", "Feb"]
    assert not chart.columns[-1].minor
    # Every other month is named on a phone, ending with this one.
    assert [c.minor for c in chart.columns] == [i % 2 == 0 for i in range(12)]
    years = [(c.year, c.year_where) for c in chart.columns]
    # December is not named on a phone, so neither is its year there.
    assert years[:3] == [("2025", "wide"), ("2026", "all"), ("", "")]
    assert {y for y, _ in years[3:]} == {""}


def test_a_year_starting_on_an_unnamed_january_is_named_at_february_on_a_phone():
    months = [MonthCount(date(2026, m, 1), 0, 0, 0) for m in range(1, 13)]
    years = [(c.year, c.year_where) for c in layout(months).columns]
    assert years[:3] == [("2026", "wide"), ("2026", "narrow"), ("", "")]


def test_no_subscribers_at_all_draws_flat_lines_without_dividing_by_zero():
    chart = layout([MonthCount(date(2026, 11, 1), 0, 0, 0)] * 3)
    assert chart.is_empty
    assert {c.point_y for c in chart.columns} == {LINE_BOTTOM}
    assert {c.joined_height for c in chart.columns} == {0}
    assert {c.left_height for c in chart.columns} == {0}


# Counting per month in the database --------------------------------------------------


def make_history() -> None:
    """Before the chart's year: 3 confirmed, 1 of whom left before it too."""
    make_listed_subscriber(S.CONFIRMED, confirmed_at=at(2025, 3))
    make_listed_subscriber(S.CONFIRMED, confirmed_at=at(2025, 6))
    make_listed_subscriber(
        S.UNSUBSCRIBED, confirmed_at=at(2025, 4), left_at=at(2025, 5)
    )
    # In it: 2 joined in December 2025, one of whom left in March.
    make_listed_subscriber(S.CONFIRMED, confirmed_at=at(2025, 12, 1))
    make_listed_subscriber(
        S.BOUNCED, confirmed_at=at(2025, 12, 31), left_at=at(2026, 3)
    )
    # One left in 2025 and confirmed again in October 2026: here, from October.
    make_listed_subscriber(S.CONFIRMED, confirmed_at=at(2026, 10), left_at=at(2025, 2))
    # One confirmed in November, one left in November (confirmed in 2024).
    make_listed_subscriber(S.CONFIRMED, confirmed_at=at(2026, 11, 2))
    make_listed_subscriber(S.COMPLAINED, confirmed_at=at(2024, 1), left_at=at(2026, 11))
    # Never confirmed: not in the chart, whatever became of them.
    make_listed_subscriber(S.PENDING)
    make_listed_subscriber(S.BOUNCED, confirmed_at=None, left_at=at(2026, 7))


@pytest.mark.django_db
def test_joined_left_and_totals_per_month_in_three_queries():
    make_history()
    with CaptureQueriesContext(connection) as queries:
        months = selectors.subscriber_growth(now=NOW)
    assert len(queries) == 3

    assert [m.start for m in months] == [
        date(2025 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(12, 24)
    ]
    by_month = {(m.start.year, m.start.month): m for m in months}
    assert (by_month[2025, 12].joined, by_month[2025, 12].total) == (2, 5)
    assert (by_month[2026, 3].left, by_month[2026, 3].total) == (1, 4)
    assert (by_month[2026, 10].joined, by_month[2026, 10].total) == (1, 5)
    november = by_month[2026, 11]
    assert (november.joined, november.left, november.total) == (1, 1, 5)
    assert sum(m.joined for m in months) == 4
    assert sum(m.left for m in months) == 2
    # The line ends where the subscriber list stands.
    assert months[-1].total == Subscriber.objects.confirmed().count()


@pytest.mark.django_db
def test_the_count_takes_three_queries_however_many_subscribers():
    for n in range(40):
        make_listed_subscriber(S.CONFIRMED, confirmed_at=at(2026, n % 11 + 1))
    with CaptureQueriesContext(connection) as queries:
        months = selectors.subscriber_growth(now=NOW)
    assert len(queries) == 3
    assert months[-1].total == 40


# On the subscriber list ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_subscriber_list_shows_the_chart_with_its_numbers(staff_client, settings):
    make_history()
    months = selectors.subscriber_growth()
    response = staff_client.get(reverse("admin:newsletter_subscriber_changelist"))
    text = response.text

    chart = text.split('<section class="growth-chart"', 1)[1].split("</section>")[0]
    assert re.search(
        r'<svg [^>]*role="img" [^>]*aria-labelledby="growth-svg-title', chart
    )
    assert (
        '<title id="growth-svg-title">' in chart
        and '<desc id="growth-svg-desc">' in chart
    )
    assert "<script" not in chart and "http" not in chart
    now_total = Subscriber.objects.confirmed().count()
    assert months[-1].total == now_total
    assert f"{now_total} now" in chart
    joined = sum(m.joined for m in months)
    left = sum(m.left for m in months)
    assert f"{joined} joined and {left} left in these months" in chart
    start = dateformat.format(months[0].start, "F Y")
    assert f"{months[0].total} at the end of {start}" in chart
    rows = re.findall(
        r'<tr><th scope="row">([^<]+)</th><td class="num">(\d+)</td>'
        r'<td class="num">(\d+)</td><td class="num">(\d+)</td></tr>',
        chart,
    )
    assert [(int(j), int(lf), int(t)) for _, j, lf, t in rows] == [
        (m.joined, m.left, m.total) for m in months
    ]
    assert rows[-1][0].endswith("(so far)")
    assert chart.count('class="total-dot"') == 12
    assert chart.count('<rect class="joined"') == sum(1 for m in months if m.joined)
    assert chart.count('<rect class="left"') == sum(1 for m in months if m.left)


# In Chromium: light, dark and phone width -------------------------------------------


def make_a_year_of_subscribers() -> None:
    """Growing, with some leaving: a chart a person can judge."""
    today = timezone.localdate()
    for back in range(14):
        index = today.year * 12 + today.month - 1 - back
        year, month = index // 12, index % 12 + 1
        for n in range(3 + (13 - back) % 5 + (13 - back)):
            make_listed_subscriber(
                S.CONFIRMED, confirmed_at=at(year, month, n % 27 + 1)
            )
        for n in range(back % 4):
            make_listed_subscriber(
                S.UNSUBSCRIBED,
                confirmed_at=at(2024, 1),
                left_at=at(year, month, n % 27 + 1),
            )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_chart_reads_in_light_dark_and_on_a_phone(
    page, live_server, artifacts_dir
):
    from playwright.sync_api import expect

    from tests.browser_fixtures import DESKTOP, PHONE
    from tests.newsletter.test_admin import browser_staff_page

    make_a_year_of_subscribers()
    total = Subscriber.objects.confirmed().count()
    watcher = browser_staff_page(page, live_server)
    chart = page.locator("section.growth-chart")
    svg = chart.locator('svg[role="img"]')
    for name, viewport, scheme in [
        ("light", DESKTOP, "light"),
        ("dark", DESKTOP, "dark"),
        ("phone", PHONE, "light"),
    ]:
        page.emulate_media(color_scheme=scheme)
        page.set_viewport_size(viewport)
        page.goto(f"{live_server.url}/admin/newsletter/subscriber/")
        expect(chart).to_contain_text(f"{total} now")
        expect(svg).to_be_visible()
        box = svg.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
        # Month names stay legible: at least 10 CSS pixels high, whatever the width.
        label = chart.locator("text.month").last.bounding_box()
        assert label["height"] >= 10, (name, label)
        chart.screenshot(path=artifacts_dir / f"newsletter-growth-chart-{name}.png")
    # The dark page draws the line in the admin's dark link colour, not a fixed one.
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/admin/newsletter/subscriber/")
    stroke = svg.locator(".total-line").evaluate("e => getComputedStyle(e).stroke")
    link = page.evaluate(
        """() => {
            const probe = document.createElement('span');
            probe.style.color = 'var(--link-fg)';
            document.body.append(probe);
            return getComputedStyle(probe).color;
        }"""
    )
    light_link = "rgb(65, 120, 147)"  # the admin's light --link-fg, #417893
    assert stroke == link and link != light_link
    chart.locator("summary").click()
    expect(chart.locator("tbody tr")).to_have_count(12)
    assert watcher.errors == [] and watcher.violations == []


@pytest.mark.django_db
def test_a_list_nobody_confirmed_yet_says_so_instead_of_an_empty_chart(staff_client):
    make_listed_subscriber(S.PENDING)
    response = staff_client.get(reverse("admin:newsletter_subscriber_changelist"))
    chart = response.text.split('<section class="growth-chart"', 1)[1]
    chart = chart.split("</section>")[0]
    assert "No confirmed subscribers yet" in chart
    assert "<svg" not in chart
