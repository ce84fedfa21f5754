"""Background tasks of the shared pieces (django-tasks; `manage.py db_worker`)."""

from dataclasses import asdict
from datetime import datetime, timedelta

from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks.base import TASK_MAX_PRIORITY
from django_tasks_db.models import DBTaskResult, get_date_max

from core import retention


def next_run(result: DBTaskResult) -> str:
    """When a queued task runs, for a management command to say."""
    # A task queued without a time is stored as "at the end of time".
    if result.run_after == get_date_max():
        return "as soon as a worker is free"
    return f"{timezone.localtime(result.run_after):%Y-%m-%d %H:%M %Z}"


# Top priority: it takes a moment, and while other work waits it would otherwise
# measure the queue's length instead of whether a worker is alive.
@task(priority=TASK_MAX_PRIORITY)
def worker_heartbeat() -> None:
    """Shows that a worker is taking tasks (the health check queues it, core/health.py).

    Keeps only the newest heartbeat: earlier finished ones are removed, so they
    never pile up in the task results.
    """
    DBTaskResult.objects.filter(
        task_path=worker_heartbeat.module_path,
        status__in=[TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED],
    ).delete()


# Retention: the daily run of settings.RETENTION_STEPS (core/retention.py) ----------

RETENTION_EVERY = timedelta(days=1)


@task()
def apply_retention() -> list[dict]:
    """Run every retention step, then queue tomorrow's run: a chain like the
    search counts' (articles/tasks.py forget_old_searches), queued again even if
    a step fails. Fails itself, after the other steps ran, when one did."""
    try:
        results = retention.apply(dry_run=False)
        retention.raise_for_failures(results)
        return [asdict(result) for result in results]
    finally:
        # A backend without deferred tasks (the immediate one) cannot wait a day.
        if apply_retention.get_backend().supports_defer:
            queue_retention(run_after=timezone.now() + RETENTION_EVERY)


def queued_retention() -> DBTaskResult | None:
    """The daily run waiting in the queue, if any. One RUNNING does not count: its
    worker may be dead (core/workers.py puts it back), and a second chain folds
    into the first at its next run."""
    return (
        DBTaskResult.objects.filter(
            task_path=apply_retention.module_path, status=TaskResultStatus.READY
        )
        .order_by("run_after")
        .first()
    )


def queue_retention(*, run_after: datetime | None = None) -> bool:
    """Queue a daily run unless one is waiting already (False then)."""
    if queued_retention() is not None:
        return False
    apply_retention.using(run_after=run_after).enqueue()
    return True
