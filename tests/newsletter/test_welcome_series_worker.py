"""The welcome series with real worker processes (manage.py db_worker), one of them
SIGKILLed in the middle of sending a step, as a supervisor or a dying machine ends
it. The next run of send_welcome_steps, once the lease has run out, finishes what
it left: killed before DATA, the step is sent then; killed after the server took
the message, it may have arrived, so it is never sent again."""

import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from newsletter.delivery import welcome
from newsletter.models import Subscriber, WelcomeStepDelivery
from newsletter.tasks import send_welcome_steps
from tests.factories import make_subscriber, make_welcome_step
from tests.newsletter.test_welcome_worker import (  # noqa: F401
    ADDRESS,
    LEASE,
    holding,
    workers,
)
from tests.newsletter.test_worker import start_worker, worker_env
from tests.smtp_sink import Hold, SMTPSink

# The workers fixture comes from test_welcome_worker.py.
# ruff: noqa: F811

W = WelcomeStepDelivery.Status


@pytest.fixture
def due(database_tasks, settings) -> None:
    """A step due for one subscriber, and a run of the series queued."""
    settings.NEWSLETTER_CLAIM_LEASE_SECONDS = LEASE
    make_welcome_step(position=2, delay_days=3)
    make_subscriber(
        email=ADDRESS,
        status=Subscriber.Status.CONFIRMED,
        confirmed_at=timezone.now() - timedelta(days=4),
    )
    send_welcome_steps.enqueue()


def kill_worker_at(hold: Hold, env: dict, workers) -> WelcomeStepDelivery:
    worker = start_worker(env, own_group=True)
    workers.append(worker)
    deadline = time.monotonic() + 60
    try:
        while not hold.reached.wait(0.02):
            assert worker.poll() is None, worker.stderr.read().decode()
            assert time.monotonic() < deadline, "the worker never reached the server"
        os.killpg(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL
    finally:
        hold.released.set()
    return WelcomeStepDelivery.objects.get()


def next_run(env: dict, workers) -> dict:
    """Once the lease has run out, the next run of the series on a new worker."""
    time.sleep(LEASE + 0.5)
    send_welcome_steps.enqueue()
    rescuer = start_worker(env, own_group=True)
    workers.append(rescuer)
    assert rescuer.wait(timeout=60) == 0, rescuer.stderr.read().decode()
    return (
        DBTaskResult.objects.filter(
            task_path=send_welcome_steps.module_path, status="SUCCESSFUL"
        )
        .get()
        .return_value
    )


@pytest.mark.django_db(transaction=True)
def test_worker_killed_after_the_server_took_a_step_never_sends_it_again(due, workers):
    handler, commands = holding("data")
    with SMTPSink(handler) as sink:
        env = worker_env(sink.port, lease=LEASE)
        left = kill_worker_at(handler.hold, env, workers)
        assert left.status == W.SENDING
        assert sink.handler.recipients() == {ADDRESS: 1}

        outcome = next_run(env, workers)

    assert outcome == {"not_due": 1}
    assert commands == [("rcpt", ADDRESS), ("data", ADDRESS)]
    row = WelcomeStepDelivery.objects.get()
    assert row.status == W.UNCERTAIN
    assert row.error == welcome.UNCERTAIN_ERROR


@pytest.mark.django_db(transaction=True)
def test_worker_killed_before_data_has_its_step_sent_once_by_the_next_run(due, workers):
    handler, commands = holding("rcpt")
    with SMTPSink(handler) as sink:
        env = worker_env(sink.port, lease=LEASE)
        left = kill_worker_at(handler.hold, env, workers)
        assert left.status == W.CLAIMED
        assert sink.handler.count() == 0

        outcome = next_run(env, workers)

    assert outcome == {"sent": 1}
    assert commands == [("rcpt", ADDRESS), ("rcpt", ADDRESS), ("data", ADDRESS)]
    assert sink.handler.recipients() == {ADDRESS: 1}
    row = WelcomeStepDelivery.objects.get()
    assert (row.status, row.attempts) == (W.SENT, 1)
    assert row.claim != left.claim
