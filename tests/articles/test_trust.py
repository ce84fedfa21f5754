"""Medical trust on the article page: authors, review, sources, disclaimer,
reading time, last updated, table of contents, related articles."""

import json
import re
from datetime import date, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from articles import services
from articles.editorial import revisions, workflow
from articles.models import Article, Evidence, Reference
from articles.publishing.body import body_outline, render_body
from articles.publishing.trust import (
    doi_url,
    pubmed_url,
    reading_minutes,
    related_articles,
)
from articles.web.people import REVIEWED_SHOWN
from tests.factories import (
    admin_article_form,
    image_bytes,
    make_article,
    make_author,
    make_draft,
    make_reviewer,
    make_role_user,
    make_topic,
)

pytestmark = pytest.mark.django_db


def page(client, article) -> str:
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    return response.text


def ids_in(html: str) -> list[str]:
    return re.findall(r'<h[23] id="([^"]+)"', html)


# Author pages ------------------------------------------------------------------------


def test_author_page_shows_who_they_are_their_articles_and_reviews(client):
    author = make_author(
        name="Dr Ada Lee", credentials="MD, dermatologist", bio="Ada writes on acne."
    )
    author.photo.save("ada.png", ContentFile(image_bytes(size=(90, 120))))
    make_article(title="Ada on acne", author=author)
    make_draft(title="Ada draft", author=author)
    make_article(title="Reviewed by Ada", reviewer=author, reviewed_at=date(2026, 3, 4))
    make_article(title="Someone else's piece")
    text = client.get(reverse("articles:author", args=[author.slug])).text
    for expected in (
        "<h1>Dr Ada Lee</h1>",
        "MD, dermatologist",
        "Ada writes on acne.",
        'alt="Dr Ada Lee" width="90" height="120"',
        "Ada on acne",
        "Reviewed by Ada",
    ):
        assert expected in text, expected
    assert "Ada draft" not in text
    assert "Someone else" not in text
    assert client.get("/authors/nobody/").status_code == 404


def test_author_page_is_paginated_with_a_constant_number_of_queries(
    client, django_assert_max_num_queries
):
    author = make_author()
    url = reverse("articles:author", args=[author.slug])

    def fetch(query: str = "") -> str:
        # The page version (core/pagecache.py), then the author's page.
        with django_assert_max_num_queries(5):
            response = client.get(url + query)
        assert response.status_code == 200
        return response.text

    make_article(author=author)
    make_article(reviewer=author, reviewed_at=date(2026, 1, 2))
    fetch()
    for _ in range(12):
        make_article(author=author)
        make_article(reviewer=author, reviewed_at=date(2026, 1, 2))
    first = fetch()
    assert "Page 1 of 2" in first
    # The newest reviewed articles only (REVIEWED_SHOWN of the 13).
    assert fetch("?page=2").count('class="card"') == 3 + REVIEWED_SHOWN


def test_byline_and_author_box_link_to_the_author_page(client):
    author = make_author(name="Dr Ada Lee")
    text = page(client, make_article(author=author))
    assert text.count(f'href="{author.get_absolute_url()}"') == 2


# Medical review ----------------------------------------------------------------------


def test_recorded_review_shows_under_the_byline_with_date_and_link(client):
    reviewer = make_author(name="Dr Ben Ng", credentials="MD, FAAD")
    article = make_article(reviewer=reviewer, reviewed_at=date(2026, 3, 4))
    text = page(client, article)
    assert (
        f'Medically reviewed by <a href="{reviewer.get_absolute_url()}">Dr Ben Ng</a>'
        ', MD, FAAD on <time datetime="2026-03-04">4 March 2026</time>'
    ) in text
    assert text.index("byline__author") < text.index("Medically reviewed")
    assert text.index("Medically reviewed") < text.index('class="prose"')


def test_no_review_is_mentioned_when_none_was_recorded(client):
    text = page(client, make_article())
    assert "reviewed" not in text.lower()


LONG_SUMMARY = "A summary long enough to pass the content checks for summaries, yes."


def review_json_ld(client, article) -> dict:
    text = page(client, article)
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', text)
    graph = json.loads(found.group(1))["@graph"]
    return next(node for node in graph if node["@type"] == "MedicalWebPage")


def test_review_line_and_json_ld_follow_the_approved_live_version(client):
    """Approve + publish shows the review; a later version published without an
    approval (the article is no longer medical) takes it away again."""
    writer, editor = make_role_user("Writer"), make_role_user("Editor")
    reviewer = make_reviewer(username="rita", credentials="MD, FAAD")
    article = make_draft(
        topic=make_topic(), medical=True, summary=LONG_SUMMARY, created_by=writer
    )
    workflow.save_draft(
        article=article,
        data={
            **revisions.snapshot(article),
            "body": "<p>Retinoids help [1].</p>",
            "sources": [{"title": "A trial", "url": "https://example.org/t"}],
        },
        user=writer,
    )
    workflow.submit_for_review(article=article, user=writer)
    workflow.approve(article=article, user=reviewer)
    article.refresh_from_db()
    assert article.reviewer is None, "an approval alone shows readers nothing"
    workflow.publish(article=article, user=editor)
    article.refresh_from_db()
    byline = article.reviewer
    today = timezone.localdate()
    text = page(client, article)
    assert (
        f'Medically reviewed by <a href="{byline.get_absolute_url()}">Dr Rita</a>'
        f', MD, FAAD on <time datetime="{today:%Y-%m-%d}">'
    ) in text
    assert "Not yet medically reviewed" not in text
    web_page = review_json_ld(client, article)
    assert web_page["reviewedBy"]["name"] == "Dr Rita"
    assert web_page["reviewedBy"]["jobTitle"] == "MD, FAAD"
    assert web_page["lastReviewed"] == today.isoformat()

    # A reviewer marks it not medical and approves that version: published, it
    # still names its reviewer (who read it).
    workflow.mark_not_medical(article=article, user=reviewer, reason="Cosmetic only.")
    workflow.submit_for_review(article=Article.objects.get(pk=article.pk), user=editor)
    workflow.approve(article=Article.objects.get(pk=article.pk), user=reviewer)
    workflow.publish(article=Article.objects.get(pk=article.pk), user=editor)
    assert "Medically reviewed by" in page(client, article)
    # A later version no longer needs a medical approval, and says nothing of one.
    workflow.save_draft(
        article=Article.objects.get(pk=article.pk),
        data={
            **revisions.snapshot(Article.objects.get(pk=article.pk)),
            "body": "<p>Retinoids may help [1].</p>",
        },
        user=editor,
    )
    assert "Medically reviewed by" in page(client, article), "drafts change nothing"
    workflow.publish(article=Article.objects.get(pk=article.pk), user=editor)
    text = page(client, article)
    assert "Retinoids may help" in text
    assert "Medically reviewed" not in text
    assert "Not yet medically reviewed" not in text, "no longer a medical article"
    web_page = review_json_ld(client, article)
    assert "reviewedBy" not in web_page and "lastReviewed" not in web_page


def test_approving_a_live_launch_article_shows_the_review_at_once(client):
    call_command("load_launch_content", stdout=None)
    article = Article.objects.get(slug="understanding-keratosis-pilaris")
    assert "Not yet medically reviewed" in page(client, article)
    workflow.approve(article=article, user=make_reviewer(username="ben"))
    text = page(client, article)
    assert "Medically reviewed by" in text and "Dr Ben" in text
    assert "Not yet medically reviewed" not in text
    assert review_json_ld(client, article)["reviewedBy"]["name"] == "Dr Ben"


def test_medical_article_without_a_review_says_so_and_links_the_policy(client):
    article = make_article(topic=make_topic(medical=True))
    text = page(client, article)
    assert (
        f'<a href="{reverse("articles:editorial_policy")}#medical-review">'
        "Not yet medically reviewed</a>"
    ) in text
    assert "reviewedBy" not in text
    plain = page(client, make_article(medical=False))
    assert "Not yet medically reviewed" not in plain


# Evidence label -----------------------------------------------------------------------


def test_evidence_label_shows_under_the_title_and_links_its_explanation(client):
    article = make_article(evidence=Evidence.MODERATE, summary="Short summary.")
    text = page(client, article)
    assert (
        f'<p class="evidence-label"><a href="{reverse("articles:editorial_policy")}'
        '#evidence">Evidence: <strong>Moderate</strong><span class="visually-hidden">'
        " (what the evidence labels mean)</span></a></p>"
    ) in text
    title = text.index('class="article__title"')
    assert title < text.index("Evidence: ") < text.index('class="article__summary"')


def test_no_evidence_label_without_one(client):
    assert "Evidence:" not in page(client, make_article(evidence=""))


def test_launch_articles_claim_no_medical_review(client):
    call_command("load_launch_content", stdout=None)
    articles = list(Article.objects.published())
    assert articles
    for article in articles:
        assert article.reviewer is None
        text = page(client, article)
        assert "Medically reviewed by" not in text, article.slug
        assert (
            '<p class="byline__review byline__review--pending"><a href="'
            f'{reverse("articles:editorial_policy")}#medical-review">'
            "Not yet medically reviewed</a></p>"
        ) in text, article.slug
        assert "talk to a dermatologist" in text, article.slug


def test_admin_edits_sources_inline_in_order(staff_client):
    text = staff_client.get(reverse("admin:articles_article_add")).text
    assert 'name="references-TOTAL_FORMS"' in text
    data = admin_article_form(
        **{
            "references-TOTAL_FORMS": "2",
            "references-0-position": "2",
            "references-0-title": "Second source",
            "references-1-position": "1",
            "references-1-title": "First source",
            "references-1-doi": "10.1000/xyz123",
        }
    )
    response = staff_client.post(reverse("admin:articles_article_add"), data)
    assert response.status_code == 302
    article = Article.objects.get()
    titles = [r.title for r in article.references.all()]
    assert titles == ["First source", "Second source"]
    preview = reverse("admin:articles_article_preview", args=[article.pk])
    text = staff_client.get(preview).text
    assert text.index("First source") < text.index("Second source")


# Sources and disclaimer --------------------------------------------------------------


def test_sources_are_numbered_with_doi_and_pubmed_links(client):
    article = make_article()
    Reference.objects.create(
        article=article,
        position=2,
        title="Topical retinoids",
        publisher="J Am Acad Dermatol",
        year=2021,
        doi="10.1016/j.jaad.2021.01.001",
        pmid="33456789",
    )
    Reference.objects.create(
        article=article, position=1, title="Acne guide", url="https://example.org/a"
    )
    Reference.objects.create(
        article=article, position=3, title="Bad link", url="javascript:alert(1)"
    )
    text = page(client, article)
    sources = text[text.index('<h2 id="sources">Sources</h2>') :]
    sources = sources[: sources.index("</section>")]
    assert "<ol>" in sources
    items = re.findall(r'<li id="source-(\d)">(.*?)</li>', sources, re.S)
    assert [number for number, _ in items] == ["1", "2", "3"]
    items = [item for _, item in items]
    assert '<a href="https://example.org/a" rel="noopener">Acne guide</a>' in items[0]
    assert "Topical retinoids" in items[1]
    assert "<cite>J Am Acad Dermatol</cite>, 2021." in items[1]
    assert (
        '<a href="https://doi.org/10.1016/j.jaad.2021.01.001" rel="noopener">'
    ) in items[1]
    assert (
        '<a href="https://pubmed.ncbi.nlm.nih.gov/33456789/" rel="noopener">'
    ) in items[1]
    assert "Bad link" in items[2] and "javascript" not in items[2]
    assert text.index('class="prose"') < text.index("Sources")


def test_no_sources_section_without_references(client):
    text = page(client, make_article())
    assert "Sources" not in text
    assert 'id="sources"' not in text


def test_doi_and_pubmed_links_are_normalised():
    assert doi_url("https://doi.org/10.1/abc") == "https://doi.org/10.1/abc"
    assert doi_url("doi: 10.1/a b") == "https://doi.org/10.1/a%20b"
    assert doi_url("") == ""
    assert pubmed_url(" 123 ") == "https://pubmed.ncbi.nlm.nih.gov/123/"
    assert pubmed_url("abc") == ""


def test_disclaimer_is_under_every_article(client):
    for article in (make_article(), make_article(body="<p>Other.</p>")):
        text = page(client, article)
        assert "not a substitute for professional medical advice" in text
        assert "talk to a dermatologist" in text
        assert text.index('class="prose"') < text.index('class="disclaimer"')


# Reading time and last updated -------------------------------------------------------


def test_reading_time_is_about_200_words_a_minute_and_at_least_one():
    assert reading_minutes("") == 1
    assert reading_minutes("<p>Short.</p>") == 1
    assert reading_minutes("<p>" + "word " * 1000 + "</p>") == 5
    assert reading_minutes("<h2>A</h2><p>" + "word " * 449 + "</p>") == 2


def test_article_page_shows_reading_time(client):
    article = make_article(body="<p>" + "skin " * 610 + "</p>")
    assert "3 min read" in page(client, article)


def test_last_updated_shows_only_after_a_content_change_after_publishing(client):
    draft = make_draft(body="<p>First.</p>")
    draft.body = "<p>Edited while a draft.</p>"
    services.save_article(article=draft)
    article = services.publish_article(
        article=draft, at=timezone.now() - timedelta(days=3)
    )
    assert "Last updated" not in page(client, article)

    article.featured = True
    services.save_article(article=article)
    assert "Last updated" not in page(client, article)

    article.body = "<p>Corrected after publishing.</p>"
    services.save_article(article=article)
    text = page(client, article)
    assert "Last updated" in text
    assert article.content_updated_at.isoformat() in text


# Table of contents -------------------------------------------------------------------

BODY = (
    "<h2>What causes acne?</h2><p>x</p><h3>Hormones</h3><p>x</p>"
    "<h2>Treatment</h2><h3>Retinoids &amp; acids</h3><h2>Treatment</h2>"
    "<h2>Main</h2>"
)


def test_headings_get_stable_unique_ids_and_the_outline_matches():
    html = render_body(BODY)
    assert ids_in(html) == [
        "what-causes-acne",
        "hormones",
        "treatment",
        "retinoids-acids",
        "treatment-2",
        "main-2",
    ]
    assert render_body(BODY) == html
    outline = body_outline(BODY)
    assert [(h.id, h.text) for h in outline] == [
        ("what-causes-acne", "What causes acne?"),
        ("treatment", "Treatment"),
        ("treatment-2", "Treatment"),
        ("main-2", "Main"),
    ]
    assert [c.id for c in outline[0].children] == ["hormones"]
    assert [c.text for c in outline[1].children] == ["Retinoids & acids"]


def test_table_of_contents_links_to_the_headings(client):
    text = page(client, make_article(body=BODY))
    nav = re.search(
        r'<nav class="toc" aria-label="On this page">(.*?)</nav>', text, re.S
    )
    assert nav, "no table of contents"
    links = re.findall(r'href="#([^"]+)"', nav.group(1))
    body = text[text.index('class="prose"') : text.index('class="disclaimer"')]
    assert links == ids_in(body)
    assert nav.group(1).count("<ol>") == 3  # the list, and two nested lists
    assert text.index("On this page") < text.index('class="prose"')


def test_no_table_of_contents_with_fewer_than_two_headings(client):
    for body in ("<p>No headings.</p>", "<h2>Only one</h2><p>x</p>"):
        assert "On this page" not in page(client, make_article(body=body))
    assert "On this page" in page(client, make_article(body="<h2>One</h2><h3>Two</h3>"))


# Related articles --------------------------------------------------------------------


def test_related_articles_same_topic_newest_first_then_shared_words():
    topic, other = make_topic(), make_topic()
    now = timezone.now()
    article = make_article(
        title="Retinol for acne scars",
        summary="How retinol fades acne scars.",
        topic=topic,
    )
    older = make_article(topic=topic, published_at=now - timedelta(days=9))
    newer = make_article(topic=topic, published_at=now - timedelta(days=1))
    make_draft(topic=topic, title="Retinol acne scars draft")
    two_words = make_article(
        topic=other,
        title="Acne scars explained",
        published_at=now - timedelta(days=20),
    )
    one_word = make_article(topic=other, title="Retinol at night")
    make_article(topic=other, title="Sunscreen basics", summary="Daily SPF.")

    assert related_articles(article) == [newer, older, two_words]
    older.delete()
    newer.status = Article.Status.DRAFT
    newer.save()
    assert related_articles(article) == [two_words, one_word]


def test_article_page_shows_related_articles(client, django_assert_max_num_queries):
    topic = make_topic()
    article = make_article(topic=topic, title="Moisturiser basics")
    related = make_article(topic=topic, title="Barrier repair")
    draft = make_draft(topic=topic, title="Secret draft")
    reviewer = make_author()
    article.reviewer, article.reviewed_at = reviewer, date(2026, 1, 5)
    article.save()
    Reference.objects.create(article=article, title="A source", pmid="1")
    # The page version, the stored page's read (none: not prepared), the
    # article, its sources, the related articles.
    with django_assert_max_num_queries(5):
        text = page(client, article)
    section = text[text.index('id="related"') :]
    assert related.title in section
    assert draft.title not in text
    assert f'href="{article.get_absolute_url()}"' not in section
