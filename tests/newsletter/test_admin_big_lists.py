"""The subscriber list and the welcome deliveries' lists at a million subscribers
(newsletter/admin/subscribers.py, subscriber_search.py, welcome.py): searched
and sorted on indexes, counted from statistics, the figures above the list
shared through the cache once the table is big, and no date hierarchy."""

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from newsletter.models import Subscriber, WelcomeDelivery
from tests.factories import make_listed_subscriber

pytestmark = pytest.mark.django_db

S = Subscriber.Status
LIST = "admin:newsletter_subscriber_changelist"


def listed(staff_client, **params) -> list[str]:
    response = staff_client.get(reverse(LIST), params)
    return sorted(s.email for s in response.context["cl"].result_list)


@pytest.fixture
def readers():
    for email, name in [
        ("ada@example.com", "Ada"),
        ("ada.king@yahoo.com", "Augusta"),
        ("grace@example.com", "Grace"),
        ("hedy@gmail.com", "Hedwig"),
    ]:
        make_listed_subscriber(S.CONFIRMED, email=email, first_name=name)


def test_an_exact_address_finds_its_subscriber_whatever_its_case(staff_client, readers):
    assert listed(staff_client, q="Grace@Example.com") == ["grace@example.com"]
    assert listed(staff_client, q=" hedy@gmail.com ") == ["hedy@gmail.com"]


def test_the_start_of_an_address_finds_those_it_starts(staff_client, readers):
    assert listed(staff_client, q="ada@ex") == ["ada@example.com"]
    # With an @: the start only, "a@ex" is in the middle of ada@example.com.
    assert listed(staff_client, q="a@ex") == []


def test_the_start_of_an_address_or_first_name_finds_them(staff_client, readers):
    assert listed(staff_client, q="ada") == ["ada.king@yahoo.com", "ada@example.com"]
    assert listed(staff_client, q="Hedw") == ["hedy@gmail.com"]
    assert listed(staff_client, q="edwig") == []  # a first name by its start only
    assert listed(staff_client, q="king") == []  # an address too, without an @
    # LIKE's wildcards are what they are, not wildcards.
    assert listed(staff_client, q="a_a") == []


def test_after_an_at_any_part_of_an_address_finds_it(staff_client, readers):
    assert listed(staff_client, q="@yahoo") == ["ada.king@yahoo.com"]
    assert listed(staff_client, q="@king") == ["ada.king@yahoo.com"]
    assert listed(staff_client, q="@EXAMPLE.com") == [
        "ada@example.com",
        "grace@example.com",
    ]


def test_the_list_has_no_date_hierarchy_and_sorts_by_indexed_columns_only(
    staff_client, readers
):
    response = staff_client.get(reverse(LIST))
    cl = response.context["cl"]
    assert cl.date_hierarchy is None
    assert cl.sortable_by == ["email_address", "consented", "confirmed"]
    assert listed(staff_client, o="1")[0] == "ada.king@yahoo.com"
    response = staff_client.get(reverse(LIST), {"o": "-1"})
    emails = [s.email for s in response.context["cl"].result_list]
    assert emails == sorted(emails, key=str.lower, reverse=True)


def test_a_column_not_offered_for_sorting_is_not_sorted_by_from_the_address(
    staff_client, readers
):
    # By first name (column 2) the order would be Ada, Augusta, Grace, Hedwig.
    response = staff_client.get(reverse(LIST), {"o": "2"})
    names = [s.first_name for s in response.context["cl"].result_list]
    # As for any column without a sort: by the id, newest first (an index).
    assert names == ["Hedwig", "Grace", "Augusta", "Ada"]
    order_by = str(response.context["cl"].queryset.query).split("ORDER BY")[1]
    assert "first_name" not in order_by


def big(settings) -> None:
    settings.ADMIN_COUNT_ESTIMATE_ABOVE = 2
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE newsletter_subscriber")


def status_count(response, status: str) -> int:
    rows = response.context["status_counts"]["statuses"]
    return next(row["count"] for row in rows if row["value"] == status)


def test_over_a_big_table_the_counts_and_chart_are_shared_until_staff_act(
    staff_client, settings, readers
):
    big(settings)
    first = staff_client.get(reverse(LIST))
    assert status_count(first, S.CONFIRMED) == 4
    joined = first.context["growth"].last.joined
    newcomer = make_listed_subscriber(S.CONFIRMED)
    again = staff_client.get(reverse(LIST))
    assert status_count(again, S.CONFIRMED) == 4
    assert again.context["growth"].last.joined == joined
    # Staff's own action shows at once.
    staff_client.post(
        reverse(LIST),
        {"action": "unsubscribe_staff", "_selected_action": [newcomer.pk]},
    )
    after = staff_client.get(reverse(LIST))
    assert status_count(after, S.CONFIRMED) == 4
    assert status_count(after, S.UNSUBSCRIBED) == 1


def test_over_a_small_table_the_counts_are_live(staff_client, readers):
    staff_client.get(reverse(LIST))
    make_listed_subscriber(S.CONFIRMED)
    assert status_count(staff_client.get(reverse(LIST)), S.CONFIRMED) == 5


def test_the_big_list_takes_a_fixed_number_of_queries(
    staff_client, settings, readers, django_assert_max_num_queries
):
    big(settings)
    staff_client.get(reverse(LIST))  # the counts and chart, now cached
    for _ in range(20):
        make_listed_subscriber(S.CONFIRMED)
    # Session, user, permissions, the table's size (for the figures and for the
    # paginator), the count up to the cap, the page; the sidebar's one-row models.
    with django_assert_max_num_queries(12):
        staff_client.get(reverse(LIST))
    with django_assert_max_num_queries(12):
        staff_client.get(reverse(LIST), {"q": "ada", "status__exact": "confirmed"})


def test_the_welcome_list_is_searched_by_subscriber_without_a_date_hierarchy(
    staff_client, readers
):
    for subscriber in Subscriber.objects.all():
        WelcomeDelivery.objects.create(
            subscriber=subscriber, confirmed_at=timezone.now()
        )
    url = reverse("admin:newsletter_welcomedelivery_changelist")
    response = staff_client.get(url, {"q": "@yahoo"})
    cl = response.context["cl"]
    assert [d.subscriber.email for d in cl.result_list] == ["ada.king@yahoo.com"]
    assert cl.date_hierarchy is None and cl.full_result_count is None
    url = reverse("admin:newsletter_welcomestepdelivery_changelist")
    assert staff_client.get(url, {"q": "ada@"}).status_code == 200


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's own search indexes"
)
def test_postgresql_has_the_trigram_and_prefix_indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'newsletter_subscriber'"
        )
        indexes = dict(cursor.fetchall())
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone()
    assert "gin_trgm_ops" in indexes["subscriber_email_trgm_idx"]
    assert "text_pattern_ops" in indexes["subscriber_email_prefix_idx"]
    assert "text_pattern_ops" in indexes["subscriber_first_name_prefix_idx"]
