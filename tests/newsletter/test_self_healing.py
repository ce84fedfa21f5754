"""Sends and welcome emails finish by themselves after their worker died.

Real worker processes (manage.py db_worker, as systemd runs them: no --batch): the
only one is SIGKILLed mid-send, a fresh one is started, and nobody presses
anything. The fresh worker sees that the dead one stopped beating, puts its task
back in the queue and runs it (core/workers.py); the send's own claim protocol
(newsletter/delivery/issues.py, newsletter/delivery/welcome.py) keeps every message
exactly once.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from core.models import WorkerHeartbeat
from newsletter import recovery
from newsletter.delivery import issues
from newsletter.models import (
    Delivery,
    Issue,
    SendClaim,
    Subscriber,
    WelcomeDelivery,
    counters,
)
from newsletter.subscribers import services
from newsletter.tasks import send_issue, send_welcome_email, start_issue_send
from tests.factories import make_issue, make_subscriber, make_welcome_email
from tests.newsletter.test_sending import add_subscribers, scheduled_issue
from tests.newsletter.test_welcome_worker import ADDRESS, holding, kill_worker_at
from tests.newsletter.test_worker import ROOT, worker_env
from tests.smtp_sink import SinkHandler, SMTPSink

D = Delivery.Status
# Seconds, short so that the whole story fits in a test: the claim lease, how
# often a worker beats, and how long without a beat makes it dead.
LEASE, BEAT, DEAD_AFTER = 2, 0.5, 3


def service_env(port: int) -> dict:
    env = worker_env(port, lease=LEASE)
    env.update(
        DJANGO_WORKER_HEARTBEAT_SECONDS=str(BEAT),
        DJANGO_WORKER_DEAD_AFTER_SECONDS=str(DEAD_AFTER),
    )
    return env


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen]]:
    """Long-running workers, each in a process group of its own; any left running
    when the test ends (after a failed assertion) are killed."""
    started: list[subprocess.Popen] = []
    yield started
    for worker in started:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def start_service_worker(env: dict, workers: list) -> subprocess.Popen:
    """A worker as a process manager runs it: it waits for work until stopped."""
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    workers.append(worker)
    return worker


def wait_for(condition, *, timeout: float, worker: subprocess.Popen, what: str):
    deadline = time.monotonic() + timeout
    while not condition():
        assert worker.poll() is None, worker.stderr.read().decode()
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_send_whose_only_worker_was_killed_finishes_by_itself_exactly_once(
    database_tasks, workers
):
    total = 1000
    add_subscribers(total)
    issue = scheduled_issue()
    everyone = set(Subscriber.objects.confirmed().values_list("email", flat=True))
    with SMTPSink(SinkHandler(delay=0.004, parse=False)) as sink:
        env = service_env(sink.port)
        assert issues.start_send(issue_id=issue.pk)
        send_issue.enqueue(issue.pk)
        first = start_service_worker(env, workers)
        wait_for(
            lambda: sink.handler.count() >= total * 0.3,
            timeout=60,
            worker=first,
            what="the first worker sent too little",
        )
        os.killpg(first.pid, signal.SIGKILL)  # No cleanup, mid-batch.
        assert first.wait(timeout=10) == -signal.SIGKILL
        received_when_killed = sink.handler.count()
        assert received_when_killed < total
        left_running = DBTaskResult.objects.get(task_path=send_issue.module_path)
        assert left_running.status == TaskResultStatus.RUNNING

        # A fresh worker, as systemd would start one; nobody presses anything.
        started = time.monotonic()
        fresh = start_service_worker(env, workers)
        wait_for(
            lambda: Issue.objects.get(pk=issue.pk).status == Issue.Status.SENT,
            timeout=LEASE + DEAD_AFTER + 60,
            worker=fresh,
            what="the send did not finish by itself",
        )
        took = time.monotonic() - started
        fresh.send_signal(signal.SIGTERM)
        assert fresh.wait(timeout=30) == 0, fresh.stderr.read().decode()

    received = sink.handler.recipients()
    sent = set(
        issue.deliveries.filter(status=D.SENT).values_list(
            "subscriber__email", flat=True
        )
    )
    uncertain = set(
        issue.deliveries.filter(status=D.UNCERTAIN).values_list(
            "subscriber__email", flat=True
        )
    )
    # Exactly once: nobody twice at the server, nobody missed, at most the one
    # message in flight when the worker died is uncertain (and was not resent).
    assert max(received.values()) == 1
    assert sent | uncertain == everyone
    assert len(uncertain) <= 1
    assert not sent & uncertain
    assert counters.issue_counts(issue) == counters.recount(issue)
    # Within the claim lease plus the time a worker takes to be known dead, and
    # a few seconds of sending (plus a busy machine's margin).
    assert took < LEASE + DEAD_AFTER + 30
    # The dead worker's task was put back and run, not left "running".
    left_running.refresh_from_db()
    assert left_running.status == TaskResultStatus.SUCCESSFUL
    assert len(left_running.worker_ids) == 2
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).exists()
    # The fresh worker stopped cleanly and said so; the dead one's beat is gone.
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "stage, outcome",
    [
        # Killed before DATA: known unsent, so sent once by the fresh worker.
        ("rcpt", WelcomeDelivery.Status.SENT),
        # Killed after the server took it: it may have arrived; never again.
        ("data", WelcomeDelivery.Status.UNCERTAIN),
    ],
)
def test_welcome_whose_only_worker_was_killed_is_settled_by_itself_exactly_once(
    database_tasks, settings, workers, stage, outcome
):
    settings.NEWSLETTER_CLAIM_LEASE_SECONDS = LEASE
    make_welcome_email()
    assert services.confirm_subscription(
        subscriber=make_subscriber(email=ADDRESS), ip=None
    )
    handler, _ = holding(stage)
    with SMTPSink(handler) as sink:
        env = service_env(sink.port)
        left = kill_worker_at(handler.hold, env, workers)
        assert left.status != outcome

        fresh = start_service_worker(env, workers)
        wait_for(
            lambda: (
                WelcomeDelivery.objects.get().status == outcome
                # Only the welcome's own runs: the series' check is always queued
                # (newsletter/recovery.py queue_welcome_steps).
                and not DBTaskResult.objects.filter(
                    task_path=send_welcome_email.module_path,
                    status__in=["RUNNING", "READY"],
                )
            ),
            timeout=LEASE + DEAD_AFTER + 60,
            worker=fresh,
            what="the welcome was not settled by itself",
        )
        fresh.send_signal(signal.SIGTERM)
        assert fresh.wait(timeout=30) == 0, fresh.stderr.read().decode()

    assert sink.handler.recipients() == {ADDRESS: 1}
    # Every run of the welcome task finished, the killed one included.
    assert set(
        DBTaskResult.objects.filter(
            task_path=send_welcome_email.module_path
        ).values_list("status", flat=True)
    ) == {TaskResultStatus.SUCCESSFUL}


# Sends left with no task at all (newsletter/recovery.py) ----------------------------


def send_tasks() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=send_issue.module_path))


@pytest.mark.django_db
def test_sending_issue_with_no_task_and_no_live_claim_gets_one_send_task(
    database_tasks,
):
    issue = make_issue(status=Issue.Status.SENDING)

    assert recovery.resume_sends() == 1
    assert recovery.resume_sends() == 0

    [task] = send_tasks()
    assert task.args_kwargs["args"] == [issue.pk]
    assert task.status == TaskResultStatus.READY


@pytest.mark.django_db
@pytest.mark.parametrize(
    "task, status",
    [
        (send_issue, TaskResultStatus.READY),
        (send_issue, TaskResultStatus.RUNNING),
        (start_issue_send, TaskResultStatus.RUNNING),
    ],
)
def test_issue_with_a_send_task_waiting_or_running_gets_no_other(
    database_tasks, task, status
):
    issue = make_issue(status=Issue.Status.SENDING)
    # Waiting for a retry an hour from now counts as waiting.
    result = task.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(issue.pk)
    DBTaskResult.objects.filter(pk=result.id).update(status=status)

    assert recovery.resume_sends() == 0
    assert DBTaskResult.objects.count() == 1


@pytest.mark.django_db
def test_a_failed_send_task_leaves_the_issue_to_be_resumed(database_tasks):
    issue = make_issue(status=Issue.Status.SENDING)
    failed = send_issue.enqueue(issue.pk)
    DBTaskResult.objects.filter(pk=failed.id).update(status=TaskResultStatus.FAILED)

    assert recovery.resume_sends() == 1


@pytest.mark.django_db
def test_issue_with_a_live_claim_gets_no_task_but_one_whose_claim_died_does(
    database_tasks, settings
):
    settings.NEWSLETTER_CLAIM_LEASE_SECONDS = 300
    issue = make_issue(status=Issue.Status.SENDING)
    claim = SendClaim.objects.create(issue=issue, worker="elsewhere:1:abc")

    assert recovery.resume_sends() == 0

    SendClaim.objects.filter(pk=claim.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=301)
    )
    assert recovery.resume_sends() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status", [Issue.Status.DRAFT, Issue.Status.SCHEDULED, Issue.Status.SENT]
)
def test_issues_not_sending_get_no_task(database_tasks, status):
    make_issue(status=status)
    assert recovery.resume_sends() == 0
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_send_whose_task_failed_is_finished_by_the_next_worker_unasked(
    database_tasks, mailoutbox
):
    add_subscribers(5)
    issue = scheduled_issue()
    assert issues.start_send(issue_id=issue.pk)
    failed = send_issue.enqueue(issue.pk)
    DBTaskResult.objects.filter(pk=failed.id).update(status=TaskResultStatus.FAILED)

    call_command("db_worker", batch=True, startup_delay=False, reload=False)

    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        Subscriber.objects.values_list("email", flat=True)
    )


@pytest.mark.django_db
def test_send_task_meeting_a_claim_of_a_dead_worker_comes_back_when_its_lease_ends(
    database_tasks, settings, mailoutbox
):
    """Not a whole lease after this run: the claim of a worker killed 200 s ago
    can be settled 100 s from now."""
    settings.NEWSLETTER_CLAIM_LEASE_SECONDS = 300
    add_subscribers(3)
    issue = scheduled_issue()
    assert issues.start_send(issue_id=issue.pk)
    last_beat = timezone.now() - timedelta(seconds=200)
    claim = SendClaim.objects.create(
        issue=issue, worker="dead:1:abc", heartbeat_at=last_beat
    )
    held = issue.deliveries.order_by("pk").first()
    issue.deliveries.filter(pk=held.pk).update(status=D.SENDING, claim=claim)

    result = send_issue.call(issue.pk)

    assert result["finished"] is False
    assert len(mailoutbox) == 2
    [again] = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    assert again.task_path == send_issue.module_path
    assert again.run_after == last_beat + timedelta(seconds=301)
