import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from articles import services
from articles.models import Article
from tests.factories import (
    image_bytes,
    make_article,
    make_author,
    make_draft,
    make_scheduled,
    make_topic,
)

pytestmark = pytest.mark.django_db


def test_slug_is_unique_in_the_database():
    make_article(slug="same")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_article(slug="same")


def test_unique_slug_is_made_from_the_title_and_never_collides():
    make_article(slug="dry-skin-in-winter")
    make_article(slug="dry-skin-in-winter-2")
    slug = services.unique_article_slug(title="Dry skin in winter!")
    assert slug == "dry-skin-in-winter-3"


def test_save_article_fills_an_empty_slug_from_the_title():
    article = services.save_article(
        article=Article(
            title="Sun care basics",
            summary="s",
            body="<p>b</p>",
            topic=make_topic(),
            author=make_author(),
        )
    )
    assert article.slug == "sun-care-basics"


def test_publishing_without_a_time_publishes_now():
    draft = make_draft()
    services.publish_article(article=draft)
    draft.refresh_from_db()
    assert draft.status == Article.Status.PUBLISHED
    assert draft.published_at is not None
    assert draft.is_live


def test_unpublishing_returns_an_article_to_draft():
    article = make_article()
    services.unpublish_article(article=article)
    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT
    assert not Article.objects.published().filter(pk=article.pk).exists()


def test_database_refuses_a_published_article_without_a_publish_time():
    with pytest.raises(IntegrityError), transaction.atomic():
        make_article(published_at=None)


def test_database_refuses_a_cover_image_without_alt_text():
    article = make_article()
    article.cover_image.save("x.png", ContentFile(image_bytes()), save=False)
    article.cover_image_alt = ""
    with pytest.raises(IntegrityError), transaction.atomic():
        article.save()


def test_state_label_names_draft_scheduled_and_live():
    assert make_draft().state_label == "Draft"
    assert make_scheduled().state_label == "Scheduled"
    assert make_article().state_label == "Live"


def test_meta_title_and_description_fall_back_to_title_and_summary():
    article = make_article(title="T", summary="S")
    assert (article.meta_title, article.meta_description) == ("T", "S")
    article.seo_title, article.seo_description = "SEO T", "SEO D"
    assert (article.meta_title, article.meta_description) == ("SEO T", "SEO D")


def test_filtered_and_sorted_columns_are_indexed():
    index_fields = [index.fields for index in Article._meta.indexes]
    # The id too: a deep list page reads its ids from the index alone.
    assert ["status", "-published_at", "-id"] in index_fields
    for field in ("topic", "author", "reviewer"):
        assert [field, "status", "-published_at", "-id"] in index_fields
    assert Article._meta.get_field("slug").unique
    assert Article._meta.get_field("topic").db_index
