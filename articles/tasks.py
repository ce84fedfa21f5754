"""Background tasks for articles (django-tasks; run by `manage.py db_worker`).

Each is idempotent: a task killed mid-run can be run again (see newsletter/tasks.py).
"""

from dataclasses import asdict
from datetime import datetime, timedelta

from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from articles.editorial import reminders
from articles.models import Article
from articles.publishing import invalidation, prepared, renditions
from articles.search import insight


@task()
def make_renditions(source_name: str) -> int:
    """Make the responsive copies of one uploaded image (skips those made already),
    then the prepared pages showing it, now with its pictures."""
    made = renditions.make_renditions(source_name)
    if made:
        prepared.prepare_showing(source_name)
        invalidation.image_changed(source=source_name)
    return made


@task()
def forget_renditions(source_name: str) -> int:
    """Delete the copies of an image that was replaced, once nothing uses it."""
    forgotten = renditions.forget_renditions(source_name)
    if forgotten:
        invalidation.image_changed(source=source_name)
    return forgotten


@task()
def refresh_related(article_id: int, topic_id: int, text: str) -> int:
    """The related lists of the articles around one that was published,
    unpublished, retitled or moved (prepared.refresh_related_around); `text` is
    its title and summary, passed in case it was deleted meanwhile."""
    ids = prepared.articles_around(article_id=article_id, topic_id=topic_id, text=text)
    changed = prepared.refresh_related_of(ids)
    related_changed(changed, reason=f"related lists around article {article_id}")
    return len(changed)


def related_changed(ids: list[int], *, reason: str) -> None:
    """The pages of these articles list other related articles now."""
    if ids:
        invalidation.articles_changed(
            articles=Article.objects.filter(pk__in=ids).select_related(
                "topic", "author", "reviewer"
            ),
            reason=reason,
        )


# The daily refresh of every related list ---------------------------------------

RELATED_REFRESH_EVERY = timedelta(days=1)


@task()
def refresh_all_related() -> int:
    """Make every published article's related list again
    (prepared.refresh_all_related: lists drift as articles age and scheduled
    ones go live), then queue tomorrow's run: a chain like the search cleanup's,
    queued again even if this run fails. Returns how many lists changed."""
    try:
        changed = prepared.refresh_all_related()
        related_changed(changed, reason="the daily refresh of related lists")
        return len(changed)
    finally:
        if refresh_all_related.get_backend().supports_defer:
            queue_related_refresh(run_after=timezone.now() + RELATED_REFRESH_EVERY)


def queued_related_refresh() -> DBTaskResult | None:
    """The daily run waiting in the queue, if any (as queued_review_reminders)."""
    return (
        DBTaskResult.objects.filter(
            task_path=refresh_all_related.module_path,
            status=TaskResultStatus.READY,
        )
        .order_by("run_after")
        .first()
    )


def queue_related_refresh(*, run_after: datetime | None = None) -> bool:
    """Queue a daily run unless one is waiting already (a second chain folds into
    the first); False when one was waiting."""
    if queued_related_refresh() is not None:
        return False
    refresh_all_related.using(run_after=run_after).enqueue()
    return True


@task()
def prepare_articles_by(
    author_id: int | None = None, topic_id: int | None = None
) -> int:
    """The prepared pages naming an author or in a topic that was edited."""
    ids = prepared.ids_by(author_id=author_id, topic_id=topic_id)
    prepared_count = prepared.prepare_articles(ids)
    if prepared_count:
        # Their JSON-LD names the author or topic as edited.
        invalidation.articles_changed(
            articles=Article.objects.filter(pk__in=ids).select_related(
                "topic", "author", "reviewer"
            ),
            reason="prepared pages of an edited author or topic",
        )
    return prepared_count


@task()
def send_review_reminders() -> dict:
    """The weekly email to medical reviewers about due reviews
    (articles/editorial/reminders.py),
    then the next week's run: a chain of tasks, not cron, so `db_worker` is all a
    site needs. The next run is queued even if this one fails."""
    try:
        outcome = reminders.send_due_reminders()
    finally:
        # A backend without deferred tasks (the immediate one) cannot wait a week.
        if send_review_reminders.get_backend().supports_defer:
            queue_review_reminders(run_after=reminders.next_run_after(timezone.now()))
    return asdict(outcome)


def queued_review_reminders() -> DBTaskResult | None:
    """The weekly run waiting in the queue, if any. One that is RUNNING does not
    count: its worker may be dead (core/workers.py puts it back in the queue after
    a while), and a second chain folds into the first at its next run."""
    return (
        DBTaskResult.objects.filter(
            task_path=send_review_reminders.module_path,
            status=TaskResultStatus.READY,
        )
        .order_by("run_after")
        .first()
    )


def queue_review_reminders(*, run_after: datetime | None = None) -> bool:
    """Queue a weekly run unless one is waiting already: a second chain would be
    harmless (one email per reviewer per week whatever runs), and this folds it
    into the first at its next run. False when one was waiting."""
    if queued_review_reminders() is not None:
        return False
    send_review_reminders.using(run_after=run_after).enqueue()
    return True


# Search insight: the daily forgetting of old search counts ------------------------

SEARCH_CLEANUP_EVERY = timedelta(days=1)


@task()
def forget_old_searches() -> int:
    """Delete the search counts past SEARCH_INSIGHT_RETENTION_DAYS
    (articles/search/insight.py), then queue tomorrow's run: a chain like the
    review reminders', queued again even if this run fails."""
    try:
        return insight.forget_old_counts()
    finally:
        if forget_old_searches.get_backend().supports_defer:
            queue_search_cleanup(run_after=timezone.now() + SEARCH_CLEANUP_EVERY)


def queued_search_cleanup() -> DBTaskResult | None:
    """The daily run waiting in the queue, if any (as queued_review_reminders)."""
    return (
        DBTaskResult.objects.filter(
            task_path=forget_old_searches.module_path,
            status=TaskResultStatus.READY,
        )
        .order_by("run_after")
        .first()
    )


def queue_search_cleanup(*, run_after: datetime | None = None) -> bool:
    """Queue a daily run unless one is waiting already (a second chain folds into
    the first); False when one was waiting."""
    if queued_search_cleanup() is not None:
        return False
    forget_old_searches.using(run_after=run_after).enqueue()
    return True
