"""Workers that announce themselves, and the tasks of dead ones put back in the queue.

django-tasks-db's worker marks a task RUNNING when it takes it, and keeps no
heartbeat: when its process dies (SIGKILL, out of memory, a lost machine) the row
stays RUNNING for ever and nothing runs it again. Our `manage.py db_worker`
(core/management/commands/db_worker.py) is the library's worker, plus:

- at start it writes its WorkerHeartbeat row under its worker id (the id the
  library appends to each task's worker ids when it takes one), then beats it every
  WORKER_HEARTBEAT_SECONDS from a thread of its own, also while a task runs;
- a worker is dead when neither its last beat nor the start of the task is more
  recent than WORKER_DEAD_AFTER_SECONDS;
- each live worker, at start and after each beat, puts the RUNNING tasks of dead
  workers back to READY (the same row, keeping its worker ids and last start), so
  a worker takes it again. Our tasks can run again (newsletter/tasks.py says
  how): even beside a worker that was only stalled, no issue or welcome email goes
  twice. A task whose workers died MAX_TAKES times is failed instead (WorkerDied),
  lest a task that kills its worker come back for ever;
- then it calls each function in settings.WORKER_RECOVERY, which queue work left
  with no task at all (a send whose task was failed, newsletter/recovery.py);
- a worker that stops cleanly deletes its row; rows of dead workers are deleted
  once their tasks are back in the queue.

Every change is one conditional UPDATE (compare and set on the status and start of
the task), so any number of workers can do this at once: a task is put back once,
and never after another worker has taken it again.
"""

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from core.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

# A task taken this many times by workers that all died is failed, not put back.
MAX_TAKES = 3


class WorkerDied(Exception):
    """Recorded as the error of a task whose workers kept dying while running it."""


def dead_after() -> timedelta:
    return timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)


def announce(*, worker_id: str) -> None:
    """A worker starting: its row, before it takes any task."""
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "host": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": timezone.now(),
            "beat_at": timezone.now(),
        },
    )


def beat(*, worker_id: str) -> None:
    """Still alive. A worker stalled for long may find its row deleted meanwhile
    (its tasks were put back): it writes it again."""
    if not WorkerHeartbeat.objects.filter(worker_id=worker_id).update(
        beat_at=timezone.now()
    ):
        announce(worker_id=worker_id)


def retire(*, worker_id: str) -> None:
    """A worker stopping cleanly: it runs no task any more."""
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


@dataclass
class Reclaimed:
    """What one pass found: tasks put back in the queue, and tasks failed."""

    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def reclaim_abandoned_tasks() -> Reclaimed:
    """Put the RUNNING tasks of dead workers back in the queue (or fail them)."""
    now = timezone.now()
    cutoff = now - dead_after()
    done = Reclaimed()
    # Tasks started within the grace cannot belong to a dead worker yet.
    candidates = list(
        DBTaskResult.objects.filter(
            status=TaskResultStatus.RUNNING, started_at__lt=cutoff
        ).values("id", "task_path", "worker_ids", "started_at")
    )
    if candidates:
        alive = set(
            WorkerHeartbeat.objects.filter(beat_at__gte=cutoff).values_list(
                "worker_id", flat=True
            )
        )
        for task in candidates:
            worker_ids = task["worker_ids"] or []
            if worker_ids and worker_ids[-1] in alive:
                continue
            # Only if no worker has taken it since it was read.
            same = DBTaskResult.objects.filter(
                pk=task["id"],
                status=TaskResultStatus.RUNNING,
                started_at=task["started_at"],
            )
            name = f"{task['task_path']} ({task['id']})"
            if len(worker_ids) >= MAX_TAKES:
                if same.update(
                    status=TaskResultStatus.FAILED,
                    finished_at=now,
                    return_value=None,
                    exception_class_path=f"{__name__}.{WorkerDied.__qualname__}",
                    traceback=(
                        f"{__name__}.{WorkerDied.__qualname__}: its workers "
                        f"({', '.join(worker_ids)}) stopped without finishing it "
                        f"{len(worker_ids)} times; not run again.\n"
                    ),
                ):
                    done.failed.append(name)
            elif same.update(status=TaskResultStatus.READY):
                done.requeued.append(name)
    # Their tasks are back in the queue: the rows of dead workers are of no use.
    # (Read first: on SQLite a delete takes the write lock even when it finds none.)
    dead = WorkerHeartbeat.objects.filter(beat_at__lt=cutoff)
    if dead.exists():
        dead.delete()
    if done.requeued:
        logger.warning(
            "Put back in the queue %d task(s) of dead workers: %s",
            len(done.requeued),
            ", ".join(done.requeued),
        )
    if done.failed:
        logger.error(
            "Failed %d task(s) whose workers died %d times: %s",
            len(done.failed),
            MAX_TAKES,
            ", ".join(done.failed),
        )
    return done


Recovery = Callable[[], int]


def recovery_functions() -> list[Recovery]:
    """settings.WORKER_RECOVERY, imported (an ImportError names the bad one)."""
    return [import_string(path) for path in settings.WORKER_RECOVERY]


def recover(recovery: Iterable[Recovery]) -> Reclaimed:
    """One pass: dead workers' tasks back in the queue, then the apps' own checks
    for work left with no task. Returns what the first part did."""
    reclaimed = reclaim_abandoned_tasks()
    for function in recovery:
        if queued := function():
            logger.warning(
                "%s.%s queued %d task(s) for work left undone",
                function.__module__,
                function.__qualname__,
                queued,
            )
    return reclaimed


class Heart(threading.Thread):
    """Beats a worker's row, and runs recover(), every WORKER_HEARTBEAT_SECONDS.

    A thread of its own, so a worker busy with a long task (a newsletter send) still
    shows it is alive. It never stops on an error (a worker that stopped beating
    would have its task run again by another): it logs it and tries at the next
    beat.
    """

    def __init__(self, *, worker_id: str, recovery: list[Recovery]) -> None:
        super().__init__(name=f"heartbeat-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.recovery = recovery
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.wait(settings.WORKER_HEARTBEAT_SECONDS):
                # This thread's own connection: replaced when too old or broken.
                close_old_connections()
                try:
                    beat(worker_id=self.worker_id)
                except Exception:
                    logger.exception("Worker %s could not beat", self.worker_id)
                    continue
                try:
                    recover(self.recovery)
                except Exception:
                    logger.exception(
                        "Worker %s could not recover tasks", self.worker_id
                    )
        finally:
            connections.close_all()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=settings.WORKER_HEARTBEAT_SECONDS + 30)
