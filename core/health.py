"""The health endpoint for load balancers and monitoring (django-health-check).

`/health/` runs four checks at once: the database answers, the cache stores and
returns a value, the default storage (media) saves, reads and deletes a file, and a
background worker is taking tasks. It answers 200 when all pass and 500 when any
fails, with one line per check naming it ("Database(alias='default'): OK"), never a
host, user or password; `?format=json` or `Accept: application/json` gives the
same as JSON. Responses are never cached. `/health/web/` leaves out the worker, for
a load balancer that should keep serving pages while the worker is down.
"""

import dataclasses
import datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, TaskResultStatus, task_backends
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult, get_date_max
from health_check import checks
from health_check.base import HealthCheck
from health_check.exceptions import HealthCheckException, ServiceUnavailable
from health_check.views import HealthCheckView

from core.tasks import worker_heartbeat

# How often the health check has a worker prove itself while the site is idle.
HEARTBEAT_EVERY = datetime.timedelta(minutes=1)


@dataclasses.dataclass
class Database(checks.Database):
    """The library's check, with a message that names no host, port or user (the
    library keeps the start of the driver's error, which can hold them)."""

    def run(self) -> None:
        try:
            super().run()
        except ServiceUnavailable as exc:
            raise ServiceUnavailable("the database does not answer") from exc


@dataclasses.dataclass
class Storage(checks.Storage):
    """The library's check, saying what failed when the storage itself raises (the
    library reports only "unknown error"; the details go to the log)."""

    def run(self) -> None:
        try:
            super().run()
        except HealthCheckException:
            raise
        except Exception as exc:
            raise ServiceUnavailable("cannot save, read and delete a file") from exc


@dataclasses.dataclass
class Worker(HealthCheck):
    """Is a background worker (`manage.py db_worker`) taking tasks?

    django-tasks-db records nothing while a worker is idle, so this check makes a
    heartbeat: when no worker has run one (core/tasks.py) within HEARTBEAT_EVERY,
    it queues one at top priority. It fails when any task that is due, heartbeat
    or real work, has waited longer than WORKER_MAX_WAIT, or when a heartbeat
    started that long ago never finished (its worker died). So a stopped worker
    shows within about WORKER_MAX_WAIT even on an idle site. A worker kept busy by
    one task for longer than that shows too: its queue is indeed stuck, and a
    second worker is the cure. With tasks run inside the web process (no
    database backend) there is no worker to watch and the check passes.
    """

    async def run(self) -> None:
        # In the request's thread, so on its database connection.
        try:
            await sync_to_async(self.check_queue, thread_sensitive=True)()
        except DatabaseError as exc:
            raise ServiceUnavailable("the task queue cannot be read") from exc

    def check_queue(self) -> None:
        backend = task_backends[DEFAULT_TASK_BACKEND_ALIAS]
        if not isinstance(backend, DatabaseBackend):
            return
        now = timezone.now()
        cutoff = now - settings.WORKER_MAX_WAIT
        tasks = DBTaskResult.objects.filter(backend_name=backend.alias)
        # A task queued without a time waits from when it was queued.
        overdue = tasks.filter(status=TaskResultStatus.READY).filter(
            Q(run_after=get_date_max(), enqueued_at__lt=cutoff)
            | Q(run_after__lt=cutoff)
        )
        if waiting := overdue.count():
            raise ServiceUnavailable(
                f"{waiting} task(s) waiting for more than "
                f"{settings.WORKER_MAX_WAIT.total_seconds() / 60:g} minutes: is "
                "manage.py db_worker running?"
            )
        latest = (
            tasks.filter(task_path=worker_heartbeat.module_path)
            .order_by("-enqueued_at")
            .values("status", "started_at", "finished_at")
            .first()
        )
        if latest is None or (
            latest["finished_at"] and latest["finished_at"] < now - HEARTBEAT_EVERY
        ):
            worker_heartbeat.enqueue()
        elif latest["status"] == TaskResultStatus.RUNNING and (
            latest["started_at"] < cutoff
        ):
            raise ServiceUnavailable(
                "the worker running the last heartbeat stopped before finishing it"
            )


# What a web server needs to serve pages; /health/web/ runs these alone.
WEB_CHECKS = (Database, checks.Cache, Storage)


class HealthView(HealthCheckView):
    checks = (*WEB_CHECKS, Worker)

    def render_to_response(self, context, **response_kwargs):
        # Load balancers and browsers ask for */* or HTML: plain text serves both,
        # with no inline styles for the site's CSP to block.
        return self.render_to_response_text(response_kwargs.get("status", 200))
