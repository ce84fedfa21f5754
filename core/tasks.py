"""Background tasks of the shared pieces (django-tasks; `manage.py db_worker`)."""

from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks.base import TASK_MAX_PRIORITY
from django_tasks_db.models import DBTaskResult, get_date_max


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
