"""Corrections and updates: dated at the foot of the article, oldest first, and in
its JSON-LD; fetched inside the article's own query."""

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from articles.editorial import revisions, workflow
from articles.models import Article, Correction, Reference
from articles.publishing import corrections, prepared
from tests.factories import make_article, make_role_user

pytestmark = pytest.mark.django_db

LONG_SUMMARY = "A summary long enough to pass the content checks for summaries, yes."


def json_ld_article(text: str) -> dict:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', text)
    graph = json.loads(found.group(1))["@graph"]
    return next(node for node in graph if node["@type"] == "Article")


def section(text: str) -> str:
    start = text.index('<section class="corrections"')
    return text[start : text.index("</section>", start)]


def test_corrections_show_dated_oldest_first_at_the_foot_of_the_article(client):
    article = make_article(body="<p>The text.</p>")
    now = timezone.now()
    Correction.objects.create(
        article=article, text="Second: dose updated.", published_at=now
    )
    Correction.objects.create(
        article=article,
        text="First: a study's year was wrong.",
        published_at=now - timedelta(days=40),
    )
    Correction.objects.create(article=make_article(), text="Someone else's.")
    text = client.get(article.get_absolute_url()).text
    found = section(text)
    assert '<h2 id="corrections-and-updates">Corrections and updates</h2>' in found
    items = re.findall(r"<li>(.*?)</li>", found, re.S)
    first_day = timezone.localtime(now - timedelta(days=40))
    assert items == [
        f'<time datetime="{first_day:%Y-%m-%dT%H:%M:%S%z}">'
        f"{first_day.day} {first_day:%B %Y}</time>: "
        "First: a study&#x27;s year was wrong.",
        f'<time datetime="{timezone.localtime(now):%Y-%m-%dT%H:%M:%S%z}">'
        f"{timezone.localtime(now).day} {timezone.localtime(now):%B %Y}</time>: "
        "Second: dose updated.",
    ]
    assert "Someone else" not in text
    assert text.index('class="prose"') < text.index('class="corrections"')
    assert f"{reverse('articles:editorial_policy')}#corrections" in found


def test_no_corrections_section_without_corrections(client):
    text = client.get(make_article().get_absolute_url()).text
    assert "Corrections and updates" not in text
    assert '"correction"' not in text


def test_corrections_are_correction_comments_in_the_json_ld(client):
    article = make_article()
    early = timezone.now() - timedelta(days=3)
    Correction.objects.create(article=article, text="Later note.")
    Correction.objects.create(
        article=article, text="</script><b>Early</b> note.", published_at=early
    )
    data = json_ld_article(client.get(article.get_absolute_url()).text)
    assert [c["@type"] for c in data["correction"]] == ["CorrectionComment"] * 2
    assert data["correction"][0] == {
        "@type": "CorrectionComment",
        "text": "</script><b>Early</b> note.",
        "datePublished": early.isoformat(),
    }
    assert data["correction"][1]["text"] == "Later note."


def test_a_correction_given_when_publishing_a_change_is_shown(client):
    editor = make_role_user("Editor")
    article = make_article(summary=LONG_SUMMARY)
    workflow.save_draft(
        article=article,
        data={**revisions.snapshot(article), "body": "<p>Corrected text.</p>"},
        user=editor,
    )
    workflow.publish(
        article=Article.objects.get(pk=article.pk),
        user=editor,
        correction="We corrected the name of a treatment.",
    )
    text = client.get(article.get_absolute_url()).text
    assert "Corrected text." in text
    assert ": We corrected the name of a treatment.</li>" in section(text)


def test_the_article_query_brings_its_corrections_oldest_first():
    article = make_article()
    now = timezone.now()
    for days in (1, 5, 3):
        Correction.objects.create(
            article=article, text=f"{days} days ago", published_at=now - timedelta(days)
        )
    loaded = corrections.with_corrections(Article.objects.filter(pk=article.pk)).get()
    found = corrections.for_article(loaded)
    assert [c.text for c in found] == ["5 days ago", "3 days ago", "1 days ago"]
    assert found[0].published_at == now - timedelta(days=5)
    assert found[0].published_at.utcoffset() == timedelta(0)
    plain = corrections.with_corrections(Article.objects.filter(pk=make_article().pk))
    assert corrections.for_article(plain.get()) == []


def test_many_corrections_cost_no_extra_query(client, django_assert_max_num_queries):
    article = make_article()
    Reference.objects.create(article=article, title="A source")

    def fetch(queries: int) -> str:
        with django_assert_max_num_queries(queries):
            response = client.get(article.get_absolute_url())
        assert response.status_code == 200
        return response.text

    # Worked out: the page version (core/pagecache.py), the stored page's read
    # (articles/publishing/prepared.py; none fits), the article, sources, related.
    fetch(5)
    for n in range(25):
        Correction.objects.create(article=article, text=f"Update number {n}.")
    assert fetch(5).count("Update number") == 25 * 2  # page and JSON-LD
    # Stored: the page version, the stored page, its related articles' cards.
    prepared.prepare_article(article=article)
    assert fetch(3).count("Update number") == 25 * 2


def test_the_staff_preview_shows_corrections_too(staff_client):
    article = make_article()
    Correction.objects.create(article=article, text="Shown in the preview.")
    response = staff_client.get(
        reverse("admin:articles_article_preview", args=[article.pk])
    )
    assert "Shown in the preview." in section(response.text)
