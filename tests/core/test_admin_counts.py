"""Admin lists over big tables (core/admin_counts.py): the whole list counted from
table statistics, a filtered one up to a cap, a small table exactly; and the
counts reading as words in Django's own templates and messages (pinned here:
Django renders and formats them with str())."""

import pytest
from django.db import connection
from django.template import Context, Template
from django.urls import reverse

from core.admin_counts import AtLeast, BigTablePaginator, EstimatedCount, table_rows
from newsletter.models import Subscriber
from tests.factories import make_listed_subscriber

pytestmark = pytest.mark.django_db

LIST = "admin:newsletter_subscriber_changelist"


def analysed() -> None:
    # PostgreSQL's estimate is kept by ANALYZE (autovacuum runs it in production).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE newsletter_subscriber")


def subscribers(confirmed: int, pending: int = 0) -> None:
    for _ in range(confirmed):
        make_listed_subscriber(Subscriber.Status.CONFIRMED)
    for _ in range(pending):
        make_listed_subscriber(Subscriber.Status.PENDING)
    analysed()


def test_table_rows_come_from_statistics_on_postgresql_and_a_count_on_sqlite():
    subscribers(4)
    assert table_rows(Subscriber) == 4


def test_a_big_tables_whole_list_is_counted_from_statistics(
    staff_client, settings, django_assert_max_num_queries
):
    subscribers(5)
    settings.ADMIN_COUNT_ESTIMATE_ABOVE = 3
    staff_client.get(reverse(LIST))  # the figures above the list, then cached
    with django_assert_max_num_queries(12) as queries:
        response = staff_client.get(reverse(LIST))
    cl = response.context["cl"]
    assert cl.result_count == 5 and cl.full_result_count is None
    counts = [
        q["sql"]
        for q in queries.captured_queries
        if "COUNT(" in q["sql"].upper() and "newsletter_subscriber" in q["sql"]
    ]
    if connection.vendor == "postgresql":
        assert isinstance(cl.result_count, EstimatedCount)
        assert "about 5 subscribers" in response.text
        assert counts == []
    else:
        # SQLite's size of the table is its count, through the narrowest index.
        assert len(counts) == 2  # the figures above the list, the paginator
        assert "5 subscribers" in response.text


def test_a_big_tables_filtered_list_is_counted_up_to_the_cap(staff_client, settings):
    subscribers(confirmed=4, pending=1)
    settings.ADMIN_COUNT_ESTIMATE_ABOVE = 3
    settings.ADMIN_COUNT_CAP = 2
    response = staff_client.get(reverse(LIST), {"status__exact": "confirmed"})
    cl = response.context["cl"]
    assert isinstance(cl.result_count, AtLeast) and cl.result_count == 3
    assert "2+ subscribers" in response.text
    # The actions' "select across pages" note, %-formatted by the admin.
    assert "All 2+ selected" in response.text
    response = staff_client.get(reverse(LIST), {"status__exact": "pending"})
    assert response.context["cl"].result_count == 1
    assert "1 subscriber" in response.text


def test_a_small_table_is_counted_exactly(staff_client):
    subscribers(confirmed=3, pending=2)
    response = staff_client.get(reverse(LIST), {"status__exact": "confirmed"})
    cl = response.context["cl"]
    assert type(cl.result_count) is int and cl.result_count == 3


def test_a_capped_list_pages_as_far_as_it_counted(settings):
    subscribers(confirmed=6)
    settings.ADMIN_COUNT_ESTIMATE_ABOVE = 3
    settings.ADMIN_COUNT_CAP = 3
    paginator = BigTablePaginator(
        Subscriber.objects.filter(status="confirmed").order_by("pk"), 2
    )
    assert paginator.count == 4 and paginator.num_pages == 2
    assert len(paginator.page(2).object_list) == 2


def test_counts_read_as_words_in_templates_and_messages():
    about, capped = EstimatedCount(1_234_567), AtLeast(10_001)
    template = Template(
        "{% load i18n %}{{ n }} {% if n == 1 %}one{% else %}many{% endif %}; "
        "{% blocktranslate count counter=n %}{{ counter }} result"
        "{% plural %}{{ counter }} results{% endblocktranslate %}"
    )
    assert template.render(Context({"n": about})) == (
        "about 1,234,567 many; about 1,234,567 results"
    )
    assert template.render(Context({"n": capped})).startswith("10,000+ many")
    assert about > 200 and capped // 100 == 100  # Django pages by the number
