"""The welcome email with real worker processes (manage.py db_worker), one of them
SIGKILLed in the middle of sending it, as a supervisor or a dying machine ends it.

The killed run leaves its WelcomeDelivery row as it was; once the lease has run out
the follow-up runs (queued with the confirmation and with the claim) are what the
next worker finds. Killed before DATA, the message never left: it is sent then.
Killed after the server took the message, it may have arrived: never again.
"""

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from django_tasks_db.models import DBTaskResult

from newsletter.delivery import welcome
from newsletter.models import WelcomeDelivery
from newsletter.subscribers import services
from newsletter.tasks import send_welcome_email
from tests.factories import make_subscriber, make_welcome_email
from tests.newsletter.test_worker import start_worker, worker_env
from tests.smtp_sink import Hold, SinkHandler, SMTPSink

W = WelcomeDelivery.Status
Outcome = welcome.Outcome
ADDRESS = "ada@example.com"
# Seconds: short, so that the takeover comes within the test.
LEASE = 1


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen]]:
    """The worker processes a test starts (each in its own process group); any
    still running when it ends, after a failed assertion, are killed."""
    started: list[subprocess.Popen] = []
    yield started
    for worker in started:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


@pytest.fixture
def confirmed(database_tasks, settings) -> None:
    """A reader confirms: the welcome's task and its follow-up are queued, with the
    test's short lease in this process as in the workers."""
    settings.NEWSLETTER_CLAIM_LEASE_SECONDS = LEASE
    make_welcome_email()
    subscriber = make_subscriber(email=ADDRESS)
    assert services.confirm_subscription(subscriber=subscriber, ip=None)


def holding(at: str) -> tuple[SinkHandler, list[tuple[str, str]]]:
    """A sink handler that holds the welcome at `at` ("rcpt" or "data"), and the
    list of the SMTP commands it is sent."""
    commands: list[tuple[str, str]] = []
    handler = SinkHandler(
        hold=Hold(at=at, address=ADDRESS),
        on_command=lambda *command: commands.append(command),
    )
    return handler, commands


def kill_worker_at(
    hold: Hold, env: dict, workers: list[subprocess.Popen]
) -> WelcomeDelivery:
    """Start a worker, SIGKILL its process group where the server holds it, and
    return the welcome's row as the dead worker left it."""
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
        # The server carries on, for whoever connects next.
        hold.released.set()
    return WelcomeDelivery.objects.get()


def run_follow_ups(env: dict, workers: list[subprocess.Popen]) -> Counter:
    """Once both follow-ups are due (the lease has run out), a new worker runs
    them. Returns the outcomes of the welcome runs that finished."""
    welcome_runs = DBTaskResult.objects.filter(task_path=send_welcome_email.module_path)
    deadline = time.monotonic() + 3 * LEASE + 10
    while welcome_runs.ready().count() < 2:
        assert time.monotonic() < deadline, "the follow-ups never came due"
        time.sleep(0.05)
    rescuer = start_worker(env, own_group=True)
    workers.append(rescuer)
    assert rescuer.wait(timeout=60) == 0, rescuer.stderr.read().decode()
    return Counter(
        welcome_runs.filter(status="SUCCESSFUL").values_list("return_value", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_worker_killed_after_the_server_took_the_welcome_never_sends_it_again(
    confirmed, workers
):
    handler, commands = holding("data")
    with SMTPSink(handler) as sink:
        env = worker_env(sink.port, lease=LEASE)
        left = kill_worker_at(handler.hold, env, workers)
        # Killed past the point of no return, with the message at the server.
        assert left.status == W.SENDING
        assert sink.handler.recipients() == {ADDRESS: 1}

        outcomes = run_follow_ups(env, workers)

    # Both follow-ups ran and found nothing to send: no second attempt at all.
    assert outcomes == {Outcome.NOT_DUE: 2}
    assert commands == [("rcpt", ADDRESS), ("data", ADDRESS)]
    assert sink.handler.recipients() == {ADDRESS: 1}
    row = WelcomeDelivery.objects.get()
    assert row.status == W.UNCERTAIN
    assert row.error == welcome.UNCERTAIN_ERROR
    assert row.sent_at is None


@pytest.mark.django_db(transaction=True)
def test_worker_killed_before_data_has_its_welcome_sent_once_by_the_next(
    confirmed, workers
):
    handler, commands = holding("rcpt")
    with SMTPSink(handler) as sink:
        env = worker_env(sink.port, lease=LEASE)
        left = kill_worker_at(handler.hold, env, workers)
        # Claimed, but killed before DATA: known unsent.
        assert left.status == W.CLAIMED
        assert sink.handler.count() == 0

        outcomes = run_follow_ups(env, workers)

    # One follow-up took the row over and sent; the other found it sent.
    assert outcomes[Outcome.SENT] == 1
    assert set(outcomes) == {Outcome.SENT, Outcome.NOT_DUE}
    assert commands == [("rcpt", ADDRESS), ("rcpt", ADDRESS), ("data", ADDRESS)]
    assert sink.handler.recipients() == {ADDRESS: 1}
    row = WelcomeDelivery.objects.get()
    assert (row.status, row.attempts, row.smtp_code) == (W.SENT, 1, 250)
    assert row.claim != left.claim
    assert row.sent_at is not None
