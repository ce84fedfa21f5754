"""Search insight's counting and pins (articles/search/insight.py): every public
search counted in aggregate and nothing about who searched, the buffer, old
counts forgotten, pinned articles on the results. The report and its buttons are
in test_search_insight_report.py."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from articles.models import (
    Article,
    SearchCount,
    SearchPromotion,
)
from articles.search import insight
from articles.services import save_article
from articles.tasks import forget_old_searches
from tests.conftest import VerifiedClient
from tests.factories import make_article

pytestmark = pytest.mark.django_db

SEARCH_URL = reverse("articles:search")
REPORT_URL = reverse("admin:articles_searchcount_changelist")
SYNONYM_URL = reverse("admin:articles_searchcount_synonym")
PIN_URL = reverse("admin:articles_searchcount_pin")
IDEA_URL = reverse("admin:articles_searchcount_idea")
OTHER_ROLES = ("Writer", "Medical reviewer", "Newsletter editor")


def indexed(**fields) -> Article:
    return save_article(article=make_article(**fields))


def signed_in(user) -> Client:
    client = VerifiedClient()
    client.force_login(user)
    return client


def rows() -> list[tuple]:
    return list(
        SearchCount.objects.order_by("day", "query", "found_nothing").values_list(
            "day", "query", "found_nothing", "withheld", "count"
        )
    )


def counted(query: str) -> int:
    return sum(SearchCount.objects.filter(query=query).values_list("count", flat=True))


# Counting -----------------------------------------------------------------------


def test_queries_are_normalised_case_folded_spaces_collapsed_and_cut():
    assert insight.normalise("  Retinol\t\tSERUM \n") == "retinol serum"
    assert insight.normalise("Stra\u00dfe \uff33\uff30\uff26") == "strasse spf"
    assert 195 <= len(insight.normalise("acne " * 3000)) <= 200
    assert insight.normalise("acne\x00null\u200bbyte\x01") == "acne null byte"


def test_a_search_is_counted_once_per_day_with_whether_it_found_anything(client):
    indexed(title="Retinol at night")
    today = timezone.localdate()
    client.get(SEARCH_URL, {"q": "  Retinol  "})
    client.get(SEARCH_URL, {"q": "RETINOL"})
    client.get(SEARCH_URL, {"q": "zzzqqq"})
    assert rows() == [
        (today, "retinol", False, False, 2),
        (today, "zzzqqq", True, False, 1),
    ]


def test_each_day_has_its_own_row():
    today = timezone.localdate()
    for day in (today - timedelta(days=1), today, today):
        insight.count_search(query="acne", found_nothing=False, day=day)
    assert rows() == [
        (today - timedelta(days=1), "acne", False, False, 1),
        (today, "acne", False, False, 2),
    ]


def test_ten_kilobytes_of_text_are_cut_and_counted_once(client):
    client.get(SEARCH_URL, {"q": "eczema " * 1500})
    assert SearchCount.objects.count() == 1
    row = SearchCount.objects.get()
    assert row.count == 1 and len(row.query) <= 200
    assert row.query.startswith("eczema eczema")


@pytest.mark.parametrize(
    "query",
    [
        "jane.doe@example.com",
        "write to jane@example please",
        "+44 20 7946 0958",
        "call 555-867-5309",
        "(212) 555 0100",
    ],
)
def test_emails_and_phone_numbers_are_withheld_not_stored(client, query):
    client.get(SEARCH_URL, {"q": query})
    assert rows() == [(timezone.localdate(), "", True, True, 1)]


@pytest.mark.parametrize("query", ["spf 50", "vitamin c 2024", "ceramides @ night"])
def test_ordinary_queries_with_numbers_or_an_at_sign_are_kept(query):
    assert not insight.is_personal(insight.normalise(query))


def test_later_pages_head_requests_and_queries_without_words_are_not_counted(client):
    for i in range(12):
        indexed(title=f"Hydration tip {i}")
    client.get(SEARCH_URL, {"q": "hydration", "page": 2})
    client.get(SEARCH_URL, {"q": "hydration", "page": 1})
    client.head(SEARCH_URL, {"q": "hydration"})
    client.get(SEARCH_URL, {"q": "!!! ???"})
    client.get(SEARCH_URL)
    assert rows() == []


def test_the_search_page_is_never_cached_so_every_search_is_counted(settings):
    settings.PAGE_CACHE = True
    visitor = Client()
    for _ in range(3):
        response = visitor.get(SEARCH_URL, {"q": "acne"})
        assert response["Cache-Control"] == "private, no-store"
        assert not response.cookies
    assert counted("acne") == 3


def test_nothing_about_the_visitor_is_stored():
    fields = {f.name for f in SearchCount._meta.get_fields()}
    assert fields == {"id", "day", "query", "found_nothing", "withheld", "count"}


def test_counting_adds_one_statement_to_a_search(client, django_assert_num_queries):
    insight.count_search(query="acne", found_nothing=True)
    with django_assert_num_queries(1):
        insight.count_search(query="acne", found_nothing=True)
    assert counted("acne") == 2


def test_buffered_searches_are_written_together_once_the_interval_is_over(
    client, settings
):
    settings.SEARCH_INSIGHT_FLUSH_SECONDS = 0.3
    for _ in range(3):
        client.get(SEARCH_URL, {"q": "acne"})
    assert rows() == []
    time.sleep(0.35)
    client.get(SEARCH_URL, {"q": "zzzqqq"})
    today = timezone.localdate()
    assert rows() == [
        (today, "acne", True, False, 3),
        (today, "zzzqqq", True, False, 1),
    ]


def test_buffered_searches_are_written_once_enough_rows_wait(settings, monkeypatch):
    settings.SEARCH_INSIGHT_FLUSH_SECONDS = 3600
    monkeypatch.setattr(insight, "BUFFER_KEYS", 3)
    insight.count_search(query="one", found_nothing=False)
    insight.count_search(query="two", found_nothing=False)
    insight.count_search(query="one", found_nothing=False)
    assert rows() == []
    insight.count_search(query="three", found_nothing=True)
    assert {(r[1], r[4]) for r in rows()} == {("one", 2), ("two", 1), ("three", 1)}
    assert insight.flush() == 0


def test_a_flush_writes_what_the_process_holds_in_one_statement(
    settings, django_assert_num_queries
):
    settings.SEARCH_INSIGHT_FLUSH_SECONDS = 3600
    for query in ("a b", "c d", "a b"):
        insight.count_search(query=query, found_nothing=False)
    insight.count_search(query="a b", found_nothing=False)
    with django_assert_num_queries(1):
        assert insight.flush() == 4
    insight.count_search(query="a b", found_nothing=False)
    insight.flush()
    assert counted("a b") == 4


# Retention ----------------------------------------------------------------------


def test_counts_past_the_retention_are_deleted_and_a_dry_run_deletes_nothing(settings):
    settings.SEARCH_INSIGHT_RETENTION_DAYS = 90
    today = timezone.localdate()
    for age in (0, 89, 90, 200):
        insight.count_search(
            query=f"age {age}", found_nothing=False, day=today - timedelta(days=age)
        )
    out = StringIO()
    call_command("forget_old_searches", "--dry-run", stdout=out)
    assert "Would delete 2 search count row(s)" in out.getvalue()
    assert SearchCount.objects.count() == 4
    out = StringIO()
    call_command("forget_old_searches", stdout=out)
    assert "Deleted 2 search count row(s)" in out.getvalue()
    assert set(SearchCount.objects.values_list("query", flat=True)) == {
        "age 0",
        "age 89",
    }
    out = StringIO()
    call_command("forget_old_searches", stdout=out)
    assert "Deleted 0 search count row(s)" in out.getvalue()
    assert SearchCount.objects.count() == 2


def test_the_daily_run_deletes_and_queues_the_next_one_once(database_tasks):
    old = timezone.localdate() - timedelta(days=400)
    insight.count_search(query="old", found_nothing=False, day=old)
    out = StringIO()
    call_command("forget_old_searches", stdout=out)
    call_command("forget_old_searches", stdout=out)
    assert "the daily run was queued already" in out.getvalue()
    waiting = DBTaskResult.objects.filter(
        task_path=forget_old_searches.module_path, status=TaskResultStatus.READY
    )
    assert waiting.count() == 1
    waiting.delete()
    insight.count_search(query="old", found_nothing=False, day=old)
    assert forget_old_searches.call() == 1
    next_run = waiting.get()
    assert next_run.run_after > timezone.now() + timedelta(hours=23)


# Pinned articles on the results -------------------------------------------------


def test_pinned_live_articles_come_first_drafts_and_scheduled_never(client):
    indexed(title="Sunscreen basics")
    pinned = indexed(title="Mineral filters explained")
    draft = indexed(title="Draft pick", status=Article.Status.DRAFT)
    scheduled = indexed(
        title="Scheduled pick", published_at=timezone.now() + timedelta(days=1)
    )
    for position, article in enumerate((draft, pinned, scheduled), start=1):
        SearchPromotion.objects.create(
            query="sunscreen", article=article, position=position
        )
    text = client.get(SEARCH_URL, {"q": "Sunscreen"}).text
    assert "Recommended by our editors" in text
    assert text.index("Mineral filters explained") < text.index("</mark> basics")
    assert "Draft pick" not in text and "Scheduled pick" not in text
    assert counted("sunscreen") == 1


def test_a_pinned_article_is_listed_once_and_only_on_the_first_page(client):
    for i in range(12):
        indexed(title=f"Hydration tip {i}")
    pinned = Article.objects.get(title="Hydration tip 3")
    SearchPromotion.objects.create(query="hydration", article=pinned)
    first = client.get(SEARCH_URL, {"q": "hydration"}).text
    assert first.count("Hydration tip 3<") == 1
    second = client.get(SEARCH_URL, {"q": "hydration", "page": 2}).text
    assert "Recommended by our editors" not in second


def test_a_query_that_finds_only_its_pinned_article_found_something(client):
    pinned = indexed(title="Patch testing")
    SearchPromotion.objects.create(query="allergy check", article=pinned)
    text = client.get(SEARCH_URL, {"q": "allergy check"}).text
    assert "Patch testing" in text
    assert "No other articles match" in text
    assert rows() == [(timezone.localdate(), "allergy check", False, False, 1)]
