"""Writes with side effects for articles: saving, publishing, renditions, the
prepared public pages."""

from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone

from articles import tasks
from articles.editorial import medical
from articles.errors import WorkflowError
from articles.models import (
    Article,
    ArticleRedirect,
    Author,
    AuthorChange,
    EditorialPolicy,
    MedicalFlagChange,
    Stage,
    Topic,
    Transition,
)
from articles.publishing import invalidation, prepared, renditions
from articles.search.engine import index_article
from core.pagecache import content_changed
from core.people import split_name
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
TOPIC_SHOWN = ("name", "slug", "medical")


def _changed(before, after, fields: tuple[str, ...]) -> bool:
    return before is not None and any(
        getattr(before, f) != getattr(after, f) for f in fields
    )


def save_author(*, author: Author, user) -> Author:
    """Save an author; a new photo gets its renditions made, and the pages of
    their articles (as author or reviewer) show a new name, address or
    credentials (after the commit, in a task).

    A medical reviewer's name, credentials and account link are what readers are
    told of a review: only that reviewer or a superuser changes them, and each
    change of those (on any profile) is logged. The linked account takes the
    profile's name as its first and last name, so staff pages (dropdowns,
    history) show the one name readers see."""
    before = Author.objects.filter(pk=author.pk).first() if author.pk else None
    refusal = author_change_refusal(user=user, author=author, before=before)
    if refusal:
        raise WorkflowError(refusal)
    with transaction.atomic():
        author.save()
        _name_account(author)
        _log_author_change(user=user, author=author, before=before)
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


def _name_account(author: Author) -> None:
    if author.user_id is None or author.kind != Author.Kind.PERSON:
        return
    first_name, last_name = split_name(author.name)
    account = author._meta.get_field("user").related_model
    account.objects.filter(pk=author.user_id).update(
        first_name=first_name, last_name=last_name
    )
    # The account object already loaded (often request.user) shows it too.
    if "user" in author._state.fields_cache:
        author.user.first_name, author.user.last_name = first_name, last_name


def make_own_profile(*, user, name: str, credentials: str) -> Author:
    """The author profile of `user` (a writer or reviewer), made and linked to
    the account, or the one it has with this name and credentials."""
    author = Author.objects.filter(user=user).first() or Author(
        user=user,
        slug=unique_slug(
            queryset=Author.objects.all(),
            text=name,
            max_length=Author._meta.get_field("slug").max_length,
            fallback="author",
        ),
    )
    author.name = name
    author.credentials = credentials
    return save_author(author=author, user=user)


def author_change_refusal(*, user, author: Author, before: Author | None) -> str:
    """Why `user` may not save `author` as it is now (`before`: as stored); empty
    when they may."""
    # Anyone may keep their own profile (a new one, or one already theirs).
    owner_id = before.user_id if before is not None else author.user_id
    own = owner_id is not None and owner_id == user.pk
    permission = "articles.change_author" if before else "articles.add_author"
    if not (user.is_active and user.is_staff and (own or user.has_perm(permission))):
        return "Your role cannot change author profiles."
    changed = [
        name
        for name in medical.GUARDED_AUTHOR_FIELDS
        if before is None or _author_value(before, name) != _author_value(author, name)
    ]
    if not changed or user.is_superuser:
        return ""
    new_user = author.user if author.user_id else None
    reviewer = (
        before is not None and medical.is_reviewer_profile(before)
    ) or medical.is_reviewer_account(new_user)
    # A reviewer keeps their own name and credentials, not whose profile it is.
    if not reviewer or (own and (before is None or "user" not in changed)):
        return ""
    return (
        "This is a medical reviewer's profile: its name, credentials and account "
        "are shown on every review they approve, so only that reviewer (name and "
        "credentials) or a superuser changes them. Nothing was saved."
    )


def _author_value(author: Author, name: str):
    return getattr(author, Author._meta.get_field(name).attname)


def _log_author_change(*, user, author: Author, before: Author | None) -> None:
    if before is None:
        return
    AuthorChange.objects.bulk_create(
        AuthorChange(
            author=author,
            field=name,
            old_value=str(getattr(before, name) or ""),
            new_value=str(getattr(author, name) or ""),
            changed_by=user,
        )
        for name in medical.GUARDED_AUTHOR_FIELDS
        if _author_value(before, name) != _author_value(author, name)
    )


def save_topic(*, topic: Topic, user) -> Topic:
    """Save a topic; the pages of its articles show a new name or address (after
    the commit, in a task).

    Anyone who may change topics may mark one medical; marking it not medical is
    mark_topic_not_medical, for medical reviewers only."""
    before = Topic.objects.filter(pk=topic.pk).first() if topic.pk else None
    permission = "articles.change_topic" if before else "articles.add_topic"
    if not (user.is_active and user.is_staff and user.has_perm(permission)):
        raise WorkflowError("Your role cannot change topics.")
    if before is not None and before.medical and not topic.medical:
        raise WorkflowError(
            "Only a medical reviewer can mark a topic not medical, with a reason "
            "(“Mark not medical” on the topic's page): it takes away the medical "
            "review of every article in it. Nothing was saved."
        )
    with transaction.atomic():
        topic.save()
        if before is not None and topic.medical and not before.medical:
            _topic_medical_changed(topic=topic, user=user, reason="")
        if _changed(before, topic, TOPIC_SHOWN):
            transaction.on_commit(
                partial(tasks.prepare_articles_by.enqueue, topic_id=topic.pk),
                robust=True,
            )
    return topic


def mark_topic_not_medical(*, topic: Topic, user, reason: str) -> Topic:
    """A medical reviewer's decision that a topic is not medical, logged with
    the reason on the topic and in each of its articles' history."""
    reason = medical.check_turn_off(user=user, reason=reason, what="a topic")
    with transaction.atomic():
        topic = Topic.objects.select_for_update().get(pk=topic.pk)
        if not topic.medical:
            raise WorkflowError("The topic is not marked medical.")
        topic.medical = False
        topic.save(update_fields=["medical"])
        _topic_medical_changed(topic=topic, user=user, reason=reason)
        transaction.on_commit(
            partial(tasks.prepare_articles_by.enqueue, topic_id=topic.pk),
            robust=True,
        )
    return topic


def _topic_medical_changed(*, topic: Topic, user, reason: str) -> None:
    """Log the change on the topic and on its published articles; when the topic
    becomes medical, a scheduled article without a medical approval of its
    version is taken off the schedule (it would go live unreviewed), and a live
    one is shown "Not yet medically reviewed" and waits in the reviewers' queue."""
    MedicalFlagChange.objects.create(
        topic=topic, medical=topic.medical, actor=user, reason=reason
    )
    what = "marked medical" if topic.medical else f"marked not medical ({reason})"
    affected = []
    published = Article.objects.filter(
        topic=topic, status=Article.Status.PUBLISHED
    ).select_related("topic", "live_revision")
    for article in published:
        note = f"Topic “{topic.name}” {what}."
        to_stage = article.stage
        if topic.medical and not _live_version_approved(article):
            if article.is_scheduled:
                note += (
                    " Taken off the schedule: this version has no medical approval. "
                    "A medical reviewer approves it, then an editor schedules it."
                )
                to_stage = Stage.IN_REVIEW
            elif not article.medical:
                note += (
                    " Readers are shown “Not yet medically reviewed” until a "
                    "medical reviewer approves the version they see."
                )
        Transition.objects.create(
            article=article,
            revision=article.live_revision,
            actor=user,
            from_stage=article.stage,
            to_stage=to_stage,
            note=note,
        )
        if to_stage != article.stage:
            article.status = Article.Status.DRAFT
            article.stage = to_stage
            save_article(article=article)
        affected.append(article)
    if affected:
        invalidation.articles_changed(articles=affected, reason=f"topic {topic.pk}")


def _live_version_approved(article: Article) -> bool:
    if article.live_revision is None:
        return article.reviewer_id is not None
    return medical.current_approval(article, article.live_revision) is not None


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
    existing time. The editorial workflow (articles/editorial/workflow.py) decides
    when."""
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
