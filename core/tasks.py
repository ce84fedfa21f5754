"""Background tasks of the shared pieces (django-tasks; `manage.py db_worker`)."""

from django_tasks import TaskResultStatus, task
from django_tasks.base import TASK_MAX_PRIORITY
from django_tasks_db.models import DBTaskResult


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
