"""Sends left with no task to finish them, found and resumed by any live worker.

A worker that dies while running a send has its task put back in the queue
(core/workers.py). Some sends are left with no task at all: one whose task failed
(a database error, or workers that kept dying on it), or whose task result was
removed. Every live worker calls resume_sends() about every
WORKER_HEARTBEAT_SECONDS (settings.WORKER_RECOVERY): an issue that is sending, with
no live claim and no send task waiting or running, gets a send task, which settles
dead claims, sends what is left and marks the issue sent
(newsletter/delivery/issues.py), as "Resume sending" would.

The welcome email needs nothing here: every run that takes it queues its own
follow-up in the same transaction (newsletter/delivery/welcome.py). The later
steps of the welcome series are found by one task, send_welcome_steps, which
queue_welcome_steps() (also in settings.WORKER_RECOVERY) keeps queued: a run is
due SERIES_CHECK_SECONDS after the last, whatever became of it.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from newsletter.delivery.series import SERIES_CHECK_SECONDS
from newsletter.models import Issue, SendClaim
from newsletter.tasks import send_issue, send_welcome_steps, start_issue_send


def issues_with_a_task() -> set[int]:
    """Issues a send task is waiting for (now or later) or running on."""
    arguments = DBTaskResult.objects.filter(
        task_path__in=[send_issue.module_path, start_issue_send.module_path],
        status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],
    ).values_list("args_kwargs", flat=True)
    return {
        call["args"][0] if call["args"] else call["kwargs"].get("issue_id")
        for call in arguments
    }


def resume_sends() -> int:
    """Queue a send task for each sending issue nobody is working on. Returns how
    many were queued."""
    live = timezone.now() - timedelta(seconds=settings.NEWSLETTER_CLAIM_LEASE_SECONDS)
    sending = set(
        Issue.objects.filter(status=Issue.Status.SENDING).values_list("pk", flat=True)
    )
    if not sending:
        return 0
    worked_on = set(
        SendClaim.objects.filter(
            issue__in=sending, finished_at=None, heartbeat_at__gte=live
        ).values_list("issue_id", flat=True)
    )
    queued = 0
    for issue_id in sorted(sending - worked_on - issues_with_a_task()):
        with transaction.atomic():
            # Checked again under the issue's lock: another worker may have just
            # queued one (PostgreSQL waits here; SQLite's write lock serialises).
            if (
                not Issue.objects.select_for_update()
                .filter(pk=issue_id, status=Issue.Status.SENDING)
                .exists()
            ):
                continue
            if issue_id in issues_with_a_task():
                continue
            send_issue.enqueue(issue_id)
            queued += 1
    return queued


def queue_welcome_steps() -> bool:
    """Queue the welcome series' run, due in SERIES_CHECK_SECONDS, unless one is
    waiting or running. Returns whether it queued one. Two workers at once may
    both queue one: each step's unique row keeps every email to once."""
    if DBTaskResult.objects.filter(
        task_path=send_welcome_steps.module_path,
        status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],
    ).exists():
        return False
    run_after = timezone.now() + timedelta(seconds=SERIES_CHECK_SECONDS)
    send_welcome_steps.using(run_after=run_after).enqueue()
    return True
