"""The source check as a background task (django-tasks, run by `manage.py
db_worker`): a self-requeuing chain like the review reminders' in
articles/tasks.py. Kept here rather than in articles/tasks.py, which services
import: the check tells the desk through the workflow, which saves through
services. Queued rows name this module: keep its path."""

from dataclasses import asdict
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from articles.models import SourceCheckState
from articles.sources import checking


@task()
def check_sources() -> dict:
    """The weekly check of live articles' sources (articles/sources/checking.py),
    then the next run SOURCE_CHECK_EVERY_DAYS later, queued even if this one
    fails. A paused run stops at the next source; unpausing it in the admin
    queues a run that carries on from there."""
    try:
        outcome = checking.run()
    finally:
        # A backend without deferred tasks (the immediate one) cannot wait days.
        if check_sources.get_backend().supports_defer:
            queue_source_check(
                run_after=timezone.now()
                + timedelta(days=settings.SOURCE_CHECK_EVERY_DAYS)
            )
    return asdict(outcome)


def queued_source_check() -> DBTaskResult | None:
    """The next run waiting in the queue, if any (as queued_review_reminders:
    one RUNNING does not count, its worker may be dead)."""
    return (
        DBTaskResult.objects.filter(
            task_path=check_sources.module_path, status=TaskResultStatus.READY
        )
        .order_by("run_after")
        .first()
    )


def queue_source_check(*, run_after: datetime | None = None) -> bool:
    """Queue a run of the chain unless one is waiting already (False then): a
    second chain folds into the first. Its time goes on the state row, which the
    admin shows."""
    if queued_source_check() is not None:
        return False
    check_sources.using(run_after=run_after).enqueue()
    SourceCheckState.objects.update_or_create(
        pk=1, defaults={"next_run_at": run_after or timezone.now()}
    )
    return True


def resume_source_check() -> bool:
    """Unpaused in the admin: a run stopped midway carries on now rather than at
    the chain's next run. Queues nothing when no run was stopped. Once done, that
    run finds the chain's next run waiting and queues no other: no second chain."""
    if not checking.state().running:
        return False
    check_sources.enqueue()
    return True
