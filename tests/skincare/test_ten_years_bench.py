"""bench/ten_years.py's loader and page timer, at a tiny scale on the test database:
the loader makes the rows its sizes say, ready for the pages (revisions linked,
deliveries unique per issue), and the timer answers for every admin list."""

from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Max

from articles.models import Article, ArticleRevision, Transition
from newsletter.models import Delivery, Issue, Subscriber, SubscriberEvent

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import ten_years_data
    import ten_years_pages

    return ten_years_data, ten_years_pages


@pytest.fixture
def loaded(db, bench):
    data, _ = bench
    sizes = data.Sizes(0.0005, big_issue=True)
    made = data.load(sizes)
    return sizes, made


def test_the_loader_makes_the_rows_its_sizes_say(loaded):
    sizes, made = loaded
    assert Article.objects.count() == sizes.articles
    assert ArticleRevision.objects.count() == 10 * sizes.articles
    assert 4 * sizes.articles <= Transition.objects.count() <= 5 * sizes.articles
    assert Subscriber.objects.count() == sizes.subscribers
    assert SubscriberEvent.objects.count() == round(2.1 * sizes.subscribers)
    assert Issue.objects.filter(status="sent").count() == sizes.issues + 1
    assert (
        Delivery.objects.count()
        == sizes.issues * sizes.per_issue + sizes.big_recipients
    )
    big = Issue.objects.get(pk=made["big_issue"])
    assert big.deliveries.count() == sizes.big_recipients == big.recipient_count


def test_live_articles_point_at_their_own_revisions(loaded):
    live = Article.objects.filter(stage="live")
    assert live.exists()
    for article in live:
        assert article.latest_revision.article_id == article.pk
        assert article.live_revision.article_id == article.pk
        assert article.latest_revision.number == 10


def test_a_new_row_after_the_load_gets_a_free_id(loaded):
    # Ids were given explicitly; the sequences were moved on after them.
    subscriber = Subscriber.objects.create(
        email="new@example.com", consent_text="Yes", consent_version="1"
    )
    others = Subscriber.objects.exclude(pk=subscriber.pk)
    assert subscriber.pk > others.aggregate(top=Max("pk"))["top"]


def test_the_timer_answers_for_every_admin_list(loaded, bench, client, settings):
    _, pages = bench
    settings.PAGE_CACHE = False
    client.force_login(get_user_model().objects.get(username="bench-admin"))
    rows = pages.Rows.pick()
    found, _ = pages.admin_pages(rows, client)
    lists = [page for page in found if page.name.endswith(" list")]
    timed = pages.time_pages(lists, client, client, runs=1)
    answered = {page.name for page in timed} | {
        page.name for page in lists if page.status in pages.NOT_A_PAGE
    }
    for model in admin.site._registry:
        name = f"admin {model._meta.app_label}.{model._meta.model_name} list"
        assert name in answered
    assert all(page.status == 200 and len(page.times_ms) == 1 for page in timed)
    assert any("|" in line for line in pages.table(timed))
