"""Writes with side effects for articles: saving, publishing, renditions, the
prepared public pages."""

from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone

from articles import invalidation, prepared, renditions, tasks
from articles.models import (
    Article,
    ArticleRedirect,
    Author,
    EditorialPolicy,
    Stage,
    Topic,
)
from articles.search import index_article
from core.pagecache import content_changed
from core.sanitize import sanitize_html
from core.slugs import unique_slug


def unique_article_slug(*, title: str, exclude_pk: int | None = None) -> str:
    return unique_slug(
        queryset=Article.objects.exclude(pk=exclude_pk),
        text=title,
        max_length=Article._meta.get_field("slug").max_length,
        fallback="article",
    )


CONTENT_FIELDS = ("title", "summary", "body")


def save_article(*, article: Article) -> Article:
    """Save an article the way every path must: sanitised, slugged, publish rules.

    Also keeps what depends on the saved content in step: the old address of a
    published article keeps working (a permanent redirect), and "last updated"
    moves only when the content changes after publishing.
    """
    article.body = sanitize_html(html=article.body)
    if not article.slug:
        article.slug = unique_article_slug(title=article.title, exclude_pk=article.pk)
    if article.status == Article.Status.PUBLISHED and article.published_at is None:
        article.published_at = timezone.now()
    article.full_clean()
    before = Article.objects.filter(pk=article.pk).first() if article.pk else None
    with transaction.atomic():
        if before is not None and before.is_live:
            if any(getattr(before, f) != getattr(article, f) for f in CONTENT_FIELDS):
                article.content_updated_at = timezone.now()
            if before.slug != article.slug:
                ArticleRedirect.objects.update_or_create(
                    old_slug=before.slug, defaults={"article": article}
                )
        # A slug taken back by its article no longer redirects anywhere.
        ArticleRedirect.objects.filter(old_slug=article.slug).delete()
        article.save()
        index_article(article)
        if article.status == Article.Status.PUBLISHED or (
            before is not None and before.status == Article.Status.PUBLISHED
        ):
            invalidation.article_changed(article=article, before=before)
        enqueue_rendition_changes(
            before=renditions.article_sources(before) if before else set(),
            after=renditions.article_sources(article),
        )
    return article


def store_cover_upload(*, article: Article) -> None:
    """Store a cover image just uploaded for the article, so a revision can name
    it. The row itself is not saved: a published article keeps its live cover
    until the revision naming the new one is published."""
    Article._meta.get_field("cover_image").pre_save(article, add=article.pk is None)


def save_editorial_policy(*, policy: EditorialPolicy) -> EditorialPolicy:
    """Save the editorial policy page, its text sanitised like an article body."""
    policy.body = sanitize_html(html=policy.body)
    policy.full_clean()
    policy.save()
    content_changed(paths=[policy.get_absolute_url()], reason="editorial policy")
    return policy


# What the prepared pages (their JSON-LD) show of an author and of a topic.
AUTHOR_SHOWN = ("name", "slug", "kind", "credentials")
TOPIC_SHOWN = ("name", "slug")


def _changed(before, after, fields: tuple[str, ...]) -> bool:
    return before is not None and any(
        getattr(before, f) != getattr(after, f) for f in fields
    )


def save_author(*, author: Author) -> Author:
    """Save an author; a new photo gets its renditions made, and the pages of
    their articles (as author or reviewer) show a new name, address or
    credentials (after the commit, in a task)."""
    before = Author.objects.filter(pk=author.pk).first() if author.pk else None
    with transaction.atomic():
        author.save()
        enqueue_rendition_changes(
            before={before.photo.name} - {""} if before else set(),
            after={author.photo.name} - {""},
        )
        if _changed(before, author, AUTHOR_SHOWN):
            transaction.on_commit(
                partial(tasks.prepare_articles_by.enqueue, author_id=author.pk),
                robust=True,
            )
    return author


def save_topic(*, topic: Topic) -> Topic:
    """Save a topic; the pages of its articles show a new name or address (after
    the commit, in a task)."""
    before = Topic.objects.filter(pk=topic.pk).first() if topic.pk else None
    with transaction.atomic():
        topic.save()
        if _changed(before, topic, TOPIC_SHOWN):
            transaction.on_commit(
                partial(tasks.prepare_articles_by.enqueue, topic_id=topic.pk),
                robust=True,
            )
    return topic


def refresh_article_page(*, article: Article) -> None:
    """After a change to what readers see of an article (published, unpublished,
    its live version approved): its prepared page now, and when the change moves
    it among related articles, the related lists around it after the commit."""
    if prepared.prepare_article(article=article):
        enqueue_related_refresh(article=article)


def enqueue_related_refresh(*, article: Article) -> None:
    """After the commit, a task makes again the related lists of the articles
    around this one (as its row has it now; it may be deleted by then)."""
    transaction.on_commit(
        partial(
            tasks.refresh_related.enqueue,
            article.pk,
            article.topic_id,
            f"{article.title} {article.summary}",
        ),
        robust=True,
    )


def publish_article(*, article: Article, at: datetime | None = None) -> Article:
    """Publish the row as it is, now or at a future time (scheduling); keeps an
    existing time. The editorial workflow (articles/workflow.py) decides when."""
    article.status = Article.Status.PUBLISHED
    if at is not None:
        article.published_at = at
    if article.published_at is None:
        article.published_at = timezone.now()
    article.stage = (
        Stage.LIVE if article.published_at <= timezone.now() else (Stage.SCHEDULED)
    )
    return save_article(article=article)


def unpublish_article(*, article: Article) -> Article:
    article.status = Article.Status.DRAFT
    article.stage = Stage.UNPUBLISHED
    return save_article(article=article)


def enqueue_rendition_changes(*, before: set[str], after: set[str]) -> None:
    """After the commit, make renditions for images now used and forget those of
    images no longer used (kept while anything else still uses them)."""
    for source in sorted(after - before):
        transaction.on_commit(
            partial(tasks.make_renditions.enqueue, source), robust=True
        )
    for source in sorted(before - after):
        transaction.on_commit(
            partial(tasks.forget_renditions.enqueue, source), robust=True
        )


def forget_article_images(*, article: Article) -> None:
    """An article is being deleted: forget the renditions of its images once
    nothing else uses them (after the commit, when its row is gone)."""
    enqueue_rendition_changes(before=renditions.article_sources(article), after=set())
