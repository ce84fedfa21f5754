from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from tests.factories import make_article, make_draft, make_scheduled, make_topic

pytestmark = pytest.mark.django_db


def test_published_queryset_holds_only_live_articles():
    live = make_article()
    make_draft()
    make_scheduled()
    assert list(Article.objects.published()) == [live]


def test_live_article_page_is_public(client):
    article = make_article(title="Live one")
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    assert "Live one" in response.text


def test_draft_article_page_is_404_for_the_public(client):
    draft = make_draft()
    assert client.get(draft.get_absolute_url()).status_code == 404


def test_draft_article_page_is_404_even_for_staff_outside_preview(staff_client):
    draft = make_draft()
    assert staff_client.get(draft.get_absolute_url()).status_code == 404


def test_scheduled_article_is_404_until_its_time_then_appears_by_itself(client):
    article = make_scheduled(delay=timedelta(hours=2), title="Tomorrow's news")
    assert client.get(article.get_absolute_url()).status_code == 404
    assert "Tomorrow's news" not in client.get(reverse("articles:list")).text

    later = timezone.now() + timedelta(hours=3)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert client.get(article.get_absolute_url()).status_code == 200
        assert "Tomorrow" in client.get(reverse("articles:list")).text


def test_lists_show_neither_drafts_nor_scheduled_articles(client):
    topic = make_topic()
    make_article(title="Visible piece", topic=topic, featured=True)
    make_draft(title="Secret draft", topic=topic, featured=True)
    make_scheduled(title="Future piece", topic=topic, featured=True)
    for url in (
        reverse("articles:home"),
        reverse("articles:list"),
        topic.get_absolute_url(),
        reverse("articles:topics"),
    ):
        text = client.get(url).text
        assert "Secret draft" not in text, url
        assert "Future piece" not in text, url
    assert "Visible piece" in client.get(topic.get_absolute_url()).text


def test_topic_counts_only_public_articles(client):
    topic = make_topic(name="Acne")
    make_article(topic=topic)
    make_draft(topic=topic)
    make_scheduled(topic=topic)
    text = client.get(reverse("articles:topics")).text
    assert "1 article<" in text


def test_staff_preview_shows_a_draft_with_no_cache_headers(staff_client):
    draft = make_draft(title="Work in progress")
    url = reverse("admin:articles_article_preview", args=[draft.pk])
    response = staff_client.get(url)
    assert response.status_code == 200
    assert "Work in progress" in response.text
    assert "Draft: only staff can see this page." in response.text
    cache_control = response["Cache-Control"]
    assert "no-cache" in cache_control and "no-store" in cache_control
    assert "private" in cache_control
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_preview_of_a_scheduled_article_says_when_it_goes_out(staff_client):
    article = make_scheduled()
    url = reverse("admin:articles_article_preview", args=[article.pk])
    assert "Scheduled for" in staff_client.get(url).text


def test_preview_is_closed_to_visitors(client):
    draft = make_draft()
    url = reverse("admin:articles_article_preview", args=[draft.pk])
    response = client.get(url)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
