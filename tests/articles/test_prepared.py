"""The public article page, prepared once (articles/publishing/prepared.py): made when
the content readers see changes, read by the page without working anything out, kept
in step with what it depends on, and never shown when it no longer matches."""

import io
import json
import re
from datetime import date, timedelta
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from articles import services, tasks
from articles.editorial import previews, revisions, workflow
from articles.models import (
    Article,
    Correction,
    PreparedPage,
    RelatedArticle,
    Topic,
)
from articles.publishing import prepared, renditions
from tests.factories import (
    make_article,
    make_author,
    make_draft,
    make_reviewer,
    make_role_user,
    make_topic,
)

pytestmark = pytest.mark.django_db

SUMMARY = "A summary long enough for the content checks on summaries, and clear."
BODY = (
    "<h2>What it is</h2><p>Retinoids help [1].</p><h3>How it works</h3>"
    "<p>They renew skin [2].</p><h2>Side effects</h2><p>Dryness.</p>"
)


@pytest.fixture
def editor(db):
    return make_role_user("Editor", username="eddie")


def png(name: str, size=(900, 450)) -> str:
    output = io.BytesIO()
    Image.new("RGB", size, (9, 90, 180)).save(output, format="PNG")
    return default_storage.save(name, ContentFile(output.getvalue()))


def publish(article: Article, editor, **changes) -> Article:
    """Publish the article (with `changes` as a new revision first) through the
    workflow, as editors do."""
    article = Article.objects.get(pk=article.pk)
    if changes:
        data = {**revisions.snapshot(article), **changes}
        workflow.save_draft(article=article, data=data, user=editor)
    return workflow.publish(
        article=Article.objects.get(pk=article.pk),
        user=editor,
        override_reason="Test content.",
    )


def published(editor, **fields) -> Article:
    """A draft made live through the workflow."""
    fields.setdefault("summary", SUMMARY)
    return publish(make_draft(**fields), editor)


def page(client, article: Article) -> str:
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    return response.text


def json_ld(text: str) -> dict:
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', text)
    return json.loads(found.group(1))


def node(data: dict, kind: str) -> dict:
    return next(n for n in data["@graph"] if n["@type"] == kind)


def related_ids(article: Article) -> list[int]:
    return list(
        RelatedArticle.objects.filter(article=article)
        .order_by("position")
        .values_list("related_id", flat=True)
    )


def related_section(text: str) -> str:
    return text[text.index('id="related"') :] if 'id="related"' in text else ""


@pytest.fixture
def refuse_working_out(monkeypatch):
    """Call it, and whatever the page would work out per request raises."""

    def refuse(*args, **kwargs):
        raise AssertionError("worked out during the request")

    def patch() -> None:
        for name in WORKED_OUT:
            monkeypatch.setattr(name, refuse)

    return patch


WORKED_OUT = (
    "articles.publishing.body.render_body",
    "articles.publishing.body.add_pictures",
    "articles.publishing.body.first_citations",
    "articles.publishing.body.body_outline",
    "articles.publishing.body.heading_count",
    "articles.publishing.trust.related_articles",
    "articles.publishing.trust.reading_minutes",
    "articles.publishing.seo.article_json_ld",
    "articles.publishing.pages.render_part",
    "articles.publishing.renditions.page_renditions",
)


def rich_article(editor) -> Article:
    """A live article with everything the page shows: headings, citations and
    their sources, a cover and a body image with renditions, a medical review,
    and related articles (by topic, with a cover, and by shared words)."""
    topic = make_topic(name="Acne", slug="acne")
    cover, inline = png("covers/jar.png"), png("uploads/1/inline.png", (700, 350))
    other_cover = png("covers/other.png")
    for source in (cover, inline, other_cover):
        renditions.make_renditions(source)
    author = make_author(name="Ann Writer", credentials="MSc")
    article = make_draft(
        title="Retinoids for acne",
        summary=SUMMARY,
        topic=topic,
        author=author,
        body=BODY + f'<p><img src="/media/{inline}" alt="A jar"></p>',
        cover_image=cover,
        cover_image_alt="A jar of cream",
        evidence="moderate",
    )
    published(
        editor,
        topic=topic,
        title="Acne basics",
        cover_image=other_cover,
        cover_image_alt="Another jar",
    )
    published(editor, topic=make_topic(), title="Retinoids at night")
    publish(
        article,
        editor,
        sources=[
            {"title": "A trial", "url": "https://example.org/t", "pmid": "123"},
            {"title": "A review", "doi": "10.1000/xyz", "year": 2024},
        ],
    )
    reviewer = make_reviewer(username="rita")
    Article.objects.filter(pk=article.pk).update(medical=True)
    article = Article.objects.get(pk=article.pk)
    workflow.approve(article=article, user=reviewer)
    return Article.objects.get(pk=article.pk)


# Made on publish -------------------------------------------------------------------


def test_publishing_stores_the_prepared_page_and_related_articles(editor):
    topic = make_topic()
    other = published(editor, topic=topic, title="Other one")
    article = published(editor, topic=topic, title="Retinoids", body=BODY)
    row = PreparedPage.objects.get(article=article)
    assert '<h2 id="what-it-is">What it is</h2>' in row.body_html
    assert [item["id"] for item in row.outline] == ["what-it-is", "side-effects"]
    assert [c["id"] for c in row.outline[0]["children"]] == ["how-it-works"]
    assert row.reading_minutes == 1
    assert node(json.loads(row.json_ld), "Article")["headline"] == "Retinoids"
    assert row.site_key == prepared.site_key()
    assert related_ids(article) == [other.pk]


def test_a_draft_has_no_prepared_page(editor):
    draft = make_draft(summary=SUMMARY)
    workflow.save_draft(
        article=draft, data=revisions.snapshot(draft), user=editor, note="x"
    )
    assert not PreparedPage.objects.filter(article=draft).exists()


# Read without working anything out ---------------------------------------------------


def test_the_page_reads_the_prepared_data_and_works_nothing_out(
    client, editor, refuse_working_out
):
    article = rich_article(editor)
    refuse_working_out()
    text = page(client, article)
    assert '<h2 id="what-it-is">What it is</h2>' in text
    assert '<a href="#source-1" id="cite-1" class="cite"' in text
    assert '<a class="sources__back" href="#cite-2">' in text
    assert '<nav class="toc" aria-label="On this page">' in text
    # The cover, the body image, and "Acne basics"'s cover on its stored card.
    assert text.count("<picture") == 3
    assert "covers/other" in related_section(text)
    assert "Acne basics" in related_section(text)
    assert "Retinoids at night" in related_section(text)
    assert "2 min read" not in text and "1 min read" in text
    assert node(json_ld(text), "MedicalWebPage")["reviewedBy"]["name"] == "Dr Rita"


def test_an_author_edit_shows_on_the_page_at_once_before_the_task(
    client, editor, django_capture_on_commit_callbacks
):
    article = published(editor, body="<p>Text.</p>")
    assert "Renamed Writer" not in page(client, article)
    author = article.author
    author.name = "Renamed Writer"
    # The background re-preparing has not run: the stored page names the old
    # name, so the page is worked out from the author as it is now.
    with django_capture_on_commit_callbacks(execute=False):
        author.save()
    text = page(client, article)
    assert text.count("Renamed Writer") >= 2  # The byline and the author box.


def test_the_prepared_page_runs_three_queries(
    client, editor, django_assert_num_queries, monkeypatch
):
    article = rich_article(editor)
    monkeypatch.setattr(
        "articles.web.views.ArticleDetailView.get_object",
        mock.Mock(side_effect=AssertionError("the article was loaded")),
    )
    # The page version (core/pagecache.py), the stored page with what tells
    # whether it fits, the related articles' stored cards.
    with django_assert_num_queries(3):
        text = page(client, article)
    assert "Retinoids for acne" in text and "Acne basics" in related_section(text)


def test_a_related_articles_author_renamed_shows_on_its_card_at_once(
    client, editor, django_capture_on_commit_callbacks
):
    topic = make_topic()
    other = published(editor, topic=topic, title="Other one")
    article = published(editor, topic=topic, title="The article")
    prepared.prepare_article(article=article)
    author = other.author
    author.name = "Renamed Writer"
    # The background re-preparing has not run: the other article's stored card
    # names the old name, so the cards are worked out from the database.
    with django_capture_on_commit_callbacks(execute=False):
        author.save()
    assert "Renamed Writer" in related_section(page(client, article))


def test_a_correction_recorded_without_preparing_shows_at_once(client, editor):
    article = published(editor)
    assert "We fixed a dose." not in page(client, article)
    Correction.objects.create(article=article, text="We fixed a dose.")
    text = page(client, article)
    assert "We fixed a dose." in text
    assert node(json_ld(text), "Article")["correction"][0]["text"] == (
        "We fixed a dose."
    )


def test_the_prepared_page_is_the_page_worked_out_per_request(client, editor):
    article = rich_article(editor)
    Correction.objects.create(article=article, text="We fixed a dose.")
    prepared.prepare_article(article=article)
    stored = page(client, article)
    assert "We fixed a dose." in stored
    assert prepared.ArticlePage(
        Article.objects.select_related("prepared").get(pk=article.pk)
    ).prepared, "the page above was the prepared one"
    PreparedPage.objects.filter(article=article).delete()
    worked_out = page(client, article)
    assert stored == worked_out


# Kept in step ----------------------------------------------------------------------


def test_a_change_going_live_prepares_the_page_again(client, editor):
    article = published(editor, title="First title", body="<p>First.</p>")
    publish(
        article,
        editor,
        title="Second title",
        body="<p>Second [1].</p>",
        slug="second-title",
        sources=[{"title": "A source"}],
    )
    article.refresh_from_db()
    row = PreparedPage.objects.get(article=article)
    assert "Second" in row.body_html and 'class="cite"' in row.body_html
    data = json.loads(row.json_ld)
    assert node(data, "Article")["headline"] == "Second title"
    assert node(data, "MedicalWebPage")["url"].endswith("/articles/second-title/")
    assert "Second" in page(client, article)


def test_a_published_correction_is_in_the_prepared_json_ld(client, editor):
    article = published(editor)
    data = {**revisions.snapshot(article), "body": "<p>Corrected.</p>"}
    workflow.save_draft(article=article, data=data, user=editor)
    workflow.publish(
        article=Article.objects.get(pk=article.pk),
        user=editor,
        correction="We corrected a dose.",
    )
    row = PreparedPage.objects.get(article=article)
    assert row.correction_count == 1
    [correction] = node(json.loads(row.json_ld), "Article")["correction"]
    assert correction["text"] == "We corrected a dose."
    assert "We corrected a dose." in page(client, article)


def test_approving_the_live_version_puts_the_review_in_the_json_ld(client, editor):
    topic = make_topic()
    article = published(editor, topic=topic)
    # Live before its topic was medical, as the launch articles: in the queue.
    Topic.objects.filter(pk=topic.pk).update(medical=True)
    assert "reviewedBy" not in PreparedPage.objects.get(article=article).json_ld
    workflow.approve(
        article=Article.objects.get(pk=article.pk), user=make_reviewer(username="ben")
    )
    row = PreparedPage.objects.get(article=article)
    assert node(json.loads(row.json_ld), "MedicalWebPage")["reviewedBy"]["name"] == (
        "Dr Ben"
    )
    assert "Medically reviewed by" in page(client, article)


def test_unpublishing_deletes_the_prepared_page(client, editor):
    article = published(editor)
    workflow.unpublish(article=Article.objects.get(pk=article.pk), user=editor)
    assert not PreparedPage.objects.filter(article=article).exists()
    assert not RelatedArticle.objects.filter(article=article).exists()
    assert client.get(article.get_absolute_url()).status_code == 404


def test_renditions_made_in_the_task_reach_the_prepared_page(client, editor):
    inline = png("uploads/1/late.png", (700, 350))
    cover = png("covers/late.png")
    article = published(
        editor,
        body=f'<p><img src="/media/{inline}" alt="A jar"></p>',
        cover_image=cover,
        cover_image_alt="A jar",
    )
    row = PreparedPage.objects.get(article=article)
    assert "<picture" not in row.body_html and "<picture" not in row.cover_html
    tasks.make_renditions.enqueue(inline)
    tasks.make_renditions.enqueue(cover)
    row = PreparedPage.objects.get(article=article)
    assert "<picture" in row.body_html and "<picture" in row.cover_html
    assert page(client, article).count("<picture") == 2


def test_an_author_edit_reaches_the_json_ld_after_the_task(
    client, editor, django_capture_on_commit_callbacks
):
    author = make_author(name="Ann Old", credentials="MSc")
    reviewer = make_author(name="Dr Rev", credentials="MD")
    article = published(editor, author=author)
    Article.objects.filter(pk=article.pk).update(
        reviewer=reviewer,
        reviewer_name="Dr Rev",
        reviewer_credentials="MD",
        reviewed_at=date(2026, 1, 5),
    )
    prepared.prepare_article(article=article)
    author.name, reviewer.slug = "Ann New", "dr-rev-new"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_author(author=author, user=editor)
        services.save_author(author=reviewer, user=editor)
    data = json_ld(page(client, article))
    assert node(data, "Article")["author"]["name"] == "Ann New"
    reviewed_by = node(data, "MedicalWebPage")["reviewedBy"]
    assert reviewed_by["url"].endswith("/authors/dr-rev-new/")
    # Name and credentials are the approval's, not the profile's later ones.
    assert (reviewed_by["name"], reviewed_by["jobTitle"]) == ("Dr Rev", "MD")


def test_a_topic_edited_in_the_admin_reaches_the_json_ld_after_the_task(
    staff_client, editor, django_capture_on_commit_callbacks
):
    topic = make_topic(name="Acne", slug="acne")
    article = published(editor, topic=topic)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:articles_topic_change", args=[topic.pk]),
            {
                "name": "Acne and spots",
                "slug": "acne-and-spots",
                "description": "",
                "review_interval_months": "12",
            },
        )
    assert response.status_code == 302
    data = json.loads(PreparedPage.objects.get(article=article).json_ld)
    assert node(data, "Article")["articleSection"] == "Acne and spots"
    crumbs = node(data, "BreadcrumbList")["itemListElement"]
    assert crumbs[1]["item"].endswith("/topics/acne-and-spots/")


def test_load_launch_content_prepares_the_launch_articles():
    call_command("load_launch_content", stdout=io.StringIO())
    articles = list(Article.objects.all())
    assert PreparedPage.objects.count() == 4
    for article in articles:
        assert len(related_ids(article)) == 3, article.slug


# Related articles of other articles --------------------------------------------------


def test_another_articles_related_list_follows_after_the_background_task(
    client, editor, django_capture_on_commit_callbacks
):
    topic = make_topic()
    article = published(editor, topic=topic, title="Moisturiser basics")
    assert related_ids(article) == []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        newcomer = published(editor, topic=topic, title="Barrier repair")
    assert related_ids(article) == [], "not while the publish runs"
    for callback in callbacks:
        callback()
    assert related_ids(article) == [newcomer.pk]
    assert "Barrier repair" in related_section(page(client, article))


def test_a_new_article_sharing_words_joins_the_related_list_of_another_topic(
    editor, django_capture_on_commit_callbacks
):
    def words(title: str) -> dict:
        # Only the title's words (the content checks are overridden).
        return {"title": title, "summary": f"{title}.", "topic": make_topic()}

    article = published(editor, **words("Retinol for acne scars"))
    with django_capture_on_commit_callbacks(execute=True):
        sharing = published(editor, **words("Acne scars explained"))
        published(editor, **words("Sunscreen basics"))
    assert related_ids(article) == [sharing.pk]


def test_an_unpublished_related_article_vanishes_at_once_and_a_spare_fills_in(
    client, editor, django_capture_on_commit_callbacks
):
    topic = make_topic()
    article = published(editor, topic=topic, title="The article")
    now = timezone.now()
    others = []
    with django_capture_on_commit_callbacks(execute=True):
        for days in (1, 2, 3, 4):
            other = published(editor, topic=topic, title=f"Other {days}")
            Article.objects.filter(pk=other.pk).update(
                published_at=now - timedelta(days=days)
            )
            others.append(other)
    prepared.prepare_article(article=article)
    assert related_ids(article) == [o.pk for o in others]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        workflow.unpublish(article=Article.objects.get(pk=others[0].pk), user=editor)
    assert others[0].pk in related_ids(article), "the task has not run yet"
    section = related_section(page(client, article))
    assert "Other 1" not in section
    assert all(f"Other {n}" in section for n in (2, 3, 4))
    for callback in callbacks:
        callback()
    assert related_ids(article) == [o.pk for o in others[1:]]


def test_a_scheduled_article_shows_as_related_once_its_time_comes(client, editor):
    topic = make_topic()
    article = published(editor, topic=topic, title="The article")
    later = timezone.now() + timedelta(hours=2)
    draft = make_draft(topic=topic, title="Coming soon", summary=SUMMARY)
    workflow.publish(article=draft, user=editor, at=later, override_reason="Test.")
    prepared.prepare_article(article=article)
    assert "Coming soon" not in page(client, article)
    with mock.patch(
        "django.utils.timezone.now", return_value=later + timedelta(minutes=1)
    ):
        assert "Coming soon" in related_section(page(client, article))


# Never shown when it no longer matches -----------------------------------------------


def test_a_page_changed_around_its_prepared_row_is_worked_out(client, editor):
    article = published(editor, body="<p>Cited [1].</p>")
    assert "Cited [1]." in page(client, article)
    article.refresh_from_db()
    article.body = "<p>Saved around the workflow.</p>"
    services.save_article(article=article)
    assert "Saved around the workflow." in page(client, article)


def test_a_page_prepared_for_another_site_address_is_worked_out(
    client, editor, settings
):
    article = published(editor)
    settings.SITE_URL = "https://elsewhere.example"
    data = json_ld(page(client, article))
    assert node(data, "MedicalWebPage")["url"].startswith("https://elsewhere.example/")


def test_previews_show_the_draft_revision_not_the_prepared_live_page(client, editor):
    article = published(editor, body="<p>Live body.</p>")
    data = {**revisions.snapshot(article), "body": "<h2>Draft</h2><p>Draft body.</p>"}
    workflow.save_draft(article=article, data=data, user=editor)
    article = Article.objects.get(pk=article.pk)
    _link, token = previews.create_preview_link(article=article, user=editor)
    shared = client.get(reverse("articles:share_preview", args=[token])).text
    assert "Draft body." in shared and "Live body." not in shared
    client.force_login(editor)
    staff = client.get(reverse("admin:articles_article_preview", args=[article.pk]))
    assert "Draft body." in staff.text and "Live body." not in staff.text
    assert '<h2 id="draft">Draft</h2>' in staff.text
    assert "Live body." in page(client, article)


# The command -------------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("prepare_articles", *args, stdout=out)
    return out.getvalue()


def test_prepare_articles_fills_missing_pages_and_is_safe_to_run_again():
    first, second = make_article(), make_article()
    make_draft()
    assert "Would prepare 2 of 2 published article(s)" in run("--dry-run")
    assert not PreparedPage.objects.exists()
    assert "Prepared 2 article(s)" in run()
    assert set(PreparedPage.objects.values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
    }
    assert "Prepared 0 article(s)" in run()
    assert "Prepared 2 article(s)" in run("--all")


def test_prepare_articles_redoes_outdated_pages_and_clears_unpublished_ones():
    fresh, outdated, unpublished = make_article(), make_article(), make_article()
    prepared.prepare_articles([fresh.pk, outdated.pk, unpublished.pk])
    PreparedPage.objects.filter(pk=outdated.pk).update(site_key="old")
    Article.objects.filter(pk=unpublished.pk).update(status=Article.Status.DRAFT)
    assert "Prepared 1 article(s); cleared 1 unpublished one(s)." in run()
    assert PreparedPage.objects.get(pk=outdated.pk).site_key == prepared.site_key()
    assert not PreparedPage.objects.filter(pk=unpublished.pk).exists()
