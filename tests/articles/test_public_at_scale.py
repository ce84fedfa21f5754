"""Public pages whose cost does not grow with the archive: related articles ranked
when an article is prepared and by a daily refresh, never per request, through
bounded index reads; deep list pages read by key; an author's reviewed articles
capped; topics counted per topic."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from articles import tasks
from articles.models import Article, PreparedPage, RelatedArticle
from articles.publishing import prepared, trust
from articles.selectors import topics_with_articles
from articles.web import paging
from articles.web.people import REVIEWED_SHOWN
from tests.factories import make_article, make_author, make_topic

pytestmark = pytest.mark.django_db


def related_ids(article: Article) -> list[int]:
    return list(
        RelatedArticle.objects.filter(article=article)
        .order_by("position")
        .values_list("related_id", flat=True)
    )


def newest_first(topic, count: int, *, title: str = "Other") -> list[Article]:
    now = timezone.now()
    return [
        make_article(
            topic=topic, title=f"{title} {n}", published_at=now - timedelta(days=n)
        )
        for n in range(1, count + 1)
    ]


@pytest.fixture
def never_ranked(monkeypatch):
    """Ranking related articles during the request fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("related articles ranked per request")

    monkeypatch.setattr(trust, "related_articles", refuse)


# The article page never ranks ---------------------------------------------------


def test_a_page_whose_row_no_longer_fits_reads_its_stored_related_list(
    client, never_ranked, django_assert_max_num_queries
):
    topic = make_topic()
    article = make_article(topic=topic, title="The article")
    listed = make_article(topic=make_topic(), title="Stored related")
    newest_first(topic, 2, title="Same topic")
    PreparedPage.objects.create(
        article=article,
        body_html="<p>Old</p>",
        reading_minutes=1,
        json_ld="{}",
        source_count=0,
        correction_count=0,
        site_key="another format",
        related_basis="",
    )
    RelatedArticle.objects.create(article=article, related=listed, position=1)
    # The page version, the stored page's read (does not fit), the article with
    # its row, its sources, its stored related list.
    with django_assert_max_num_queries(5):
        text = client.get(article.get_absolute_url()).text
    section = text[text.index('id="related"') :]
    assert "Stored related" in section
    assert "Same topic" not in section


def test_a_page_without_a_row_shows_its_topics_newest_without_ranking(
    client, never_ranked, django_assert_max_num_queries
):
    topic = make_topic()
    article = make_article(topic=topic, title="The article")
    others = newest_first(topic, 4)
    make_article(topic=make_topic(), title="The article again")
    with django_assert_max_num_queries(5):
        text = client.get(article.get_absolute_url()).text
    section = text[text.index('id="related"') :]
    for shown in others[:3]:
        assert shown.title in section
    assert others[3].title not in section
    assert "The article again" not in section


# Ranking: bounded index reads ---------------------------------------------------


def test_ranking_reads_the_topic_then_shared_words_in_two_queries_at_most():
    topic = make_topic()
    article = make_article(topic=topic, title="Retinol for acne scars")
    same = newest_first(topic, 1)
    sharing = make_article(topic=make_topic(), title="Acne scars explained")
    with CaptureQueriesContext(connection) as queries:
        assert trust.related_articles(article) == [*same, sharing]
    assert len(queries) == 2
    newest_first(topic, 3)
    with CaptureQueriesContext(connection) as queries:
        trust.related_articles(article)
    assert len(queries) == 1, "a full topic needs no shared words"


def test_shared_words_are_looked_for_among_the_newest_articles_only(monkeypatch):
    monkeypatch.setattr(trust, "RELATED_WINDOW", 2)
    now = timezone.now()
    article = make_article(title="Retinol for acne scars", summary="Retinol.")
    old = make_article(
        title="Acne scars long ago",
        summary="Scars.",
        published_at=now - timedelta(days=9),
    )
    for n in (1, 2):
        make_article(
            title=f"Sunscreen {n}", summary="SPF.", published_at=now - timedelta(days=n)
        )
    assert old not in trust.related_articles(article)
    monkeypatch.setattr(trust, "RELATED_WINDOW", 3)
    assert trust.related_articles(article) == [old]


# Kept in step: around a publish, and daily -----------------------------------------


def test_an_older_article_leaves_the_lists_of_its_topic_alone():
    topic = make_topic()
    others = newest_first(topic, prepared.RELATED_KEPT + 2)
    old = make_article(topic=topic, published_at=timezone.now() - timedelta(days=99))
    around = prepared.articles_around(article_id=old.pk, topic_id=topic.pk, text="")
    assert around == set()
    newest = others[0]
    around = prepared.articles_around(article_id=newest.pk, topic_id=topic.pk, text="")
    assert around == {o.pk for o in others[1:]} | {old.pk}


def test_refreshing_writes_only_the_lists_that_changed():
    topic = make_topic()
    article, other = make_article(topic=topic), make_article(topic=topic)
    assert sorted(prepared.refresh_related_of([article.pk, other.pk])) == [
        article.pk,
        other.pk,
    ]
    assert prepared.refresh_related_of([article.pk, other.pk]) == []
    newer = make_article(topic=topic, published_at=timezone.now())
    assert sorted(prepared.refresh_all_related()) == [article.pk, other.pk, newer.pk]
    assert related_ids(article) == [newer.pk, other.pk]


def queued_refreshes() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(
            task_path=tasks.refresh_all_related.module_path,
            status=TaskResultStatus.READY,
        )
    )


def test_the_daily_refresh_remakes_lists_and_queues_tomorrows_run(database_tasks):
    topic = make_topic()
    article = make_article(topic=topic)
    prepared.refresh_all_related()
    newer = make_article(topic=topic, published_at=timezone.now())
    before = timezone.now()
    assert tasks.refresh_all_related.call() == 2
    assert related_ids(article) == [newer.pk]
    [follow_up] = queued_refreshes()
    assert follow_up.run_after - before >= tasks.RELATED_REFRESH_EVERY
    # A second chain folds into the first.
    assert tasks.refresh_all_related.call() == 0
    assert len(queued_refreshes()) == 1


def test_the_daily_refresh_queues_its_next_run_even_when_it_fails(
    database_tasks, monkeypatch
):
    def broken():
        raise RuntimeError("database went away")

    monkeypatch.setattr(prepared, "refresh_all_related", broken)
    with pytest.raises(RuntimeError):
        tasks.refresh_all_related.call()
    assert len(queued_refreshes()) == 1


# Other public pages ---------------------------------------------------------------


@pytest.mark.parametrize("page", [1, 2, 3])
def test_deep_list_pages_read_by_key_are_the_same_pages(
    client, page, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(paging, "KEYED_FROM", 10)
    topic = make_topic()
    articles = newest_first(topic, 25)
    expected = [a.pk for a in articles[(page - 1) * 10 : page * 10]]
    # The page version, the count, the page (past KEYED_FROM: its ids, its rows).
    with django_assert_max_num_queries(3 if page == 1 else 4):
        response = client.get(f"/articles/?page={page}")
    assert [a.pk for a in response.context["object_list"]] == expected
    response = client.get(f"{topic.get_absolute_url()}?page={page}")
    assert [a.pk for a in response.context["object_list"]] == expected


def test_an_author_page_lists_their_newest_reviewed_articles_only(
    client, django_assert_max_num_queries
):
    reviewer = make_author(name="Rita Reviewer")
    now = timezone.now()
    reviewed = [
        make_article(
            reviewer=reviewer,
            reviewed_at=now.date(),
            title=f"Reviewed {n:02}",
            published_at=now - timedelta(days=n),
        )
        for n in range(1, REVIEWED_SHOWN + 3)
    ]
    with django_assert_max_num_queries(5):
        text = client.get(reviewer.get_absolute_url()).text
    for article in reviewed[:REVIEWED_SHOWN]:
        assert article.title in text
    assert reviewed[REVIEWED_SHOWN].title not in text
    assert f"The {REVIEWED_SHOWN} most recent are shown." in text


def test_topics_are_counted_per_topic_live_articles_only():
    busy, quiet, empty = make_topic(name="Busy"), make_topic(name="Quiet"), make_topic()
    newest_first(busy, 3)
    make_article(topic=quiet)
    make_article(topic=empty, published_at=timezone.now() + timedelta(days=1))
    assert [(t.name, t.article_count) for t in topics_with_articles()] == [
        ("Busy", 3),
        ("Quiet", 1),
    ]


# prepare_articles: in batches, with progress ---------------------------------------


def test_prepare_articles_works_in_batches_says_how_far_and_queues_the_refresh(
    database_tasks, monkeypatch
):
    monkeypatch.setattr(prepared, "BATCH", 2)
    topic = make_topic()
    articles = newest_first(topic, 5)
    out = io.StringIO()
    call_command("prepare_articles", stdout=out)
    text = out.getvalue()
    assert "Prepared 2 of 5..." in text and "Prepared 5 of 5..." in text
    assert "Prepared 5 article(s)" in text
    assert PreparedPage.objects.count() == 5
    assert related_ids(articles[-1]) == [a.pk for a in articles[:4]]
    assert len(queued_refreshes()) == 1
    call_command("prepare_articles", stdout=io.StringIO())
    assert len(queued_refreshes()) == 1


def test_preparing_a_batch_costs_the_same_queries_for_more_articles():
    topic = make_topic()
    newest_first(topic, prepared.RELATED_KEPT + 1)
    ids = list(Article.objects.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as few:
        prepared.prepare_articles(ids)
    newest_first(topic, 12)
    PreparedPage.objects.all().delete()
    ids = list(Article.objects.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as many:
        prepared.prepare_articles(ids)
    assert len(many) == len(few)
