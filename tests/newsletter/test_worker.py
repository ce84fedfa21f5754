"""A real worker process (manage.py db_worker) killed or stalled mid-send."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from newsletter.delivery import issues
from newsletter.models import Delivery, Issue, Subscriber, counters
from newsletter.subscribers import services
from newsletter.tasks import send_issue
from tests.newsletter.test_sending import add_subscribers, scheduled_issue
from tests.smtp_sink import SinkHandler, SMTPSink

ROOT = Path(__file__).resolve().parents[2]
D = Delivery.Status


def worker_env(port: int, *, lease: int = 1) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = db["NAME"]
    else:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        env["DATABASE_URL"] = f"postgres://{auth}@{host}/{db['NAME']}"
    env.update(
        DJANGO_SECRET_KEY="worker-test-secret",
        DJANGO_DEFAULT_FROM_EMAIL="news@example.com",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        NEWSLETTER_BATCH_SIZE="100",
        NEWSLETTER_CLAIM_LEASE_SECONDS=str(lease),
    )
    return env


def start_worker(env: dict, *, own_group: bool = False) -> subprocess.Popen:
    """`own_group`: in a process group of its own, for os.killpg to end the whole
    worker as a supervisor would, and not the test run with it."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=own_group,
    )


@pytest.mark.django_db(transaction=True)
def test_killed_worker_then_resumed_send_duplicates_nothing_and_misses_nobody(
    database_tasks,
):
    add_subscribers(600)
    issue = scheduled_issue()
    everyone = set(Subscriber.objects.confirmed().values_list("email", flat=True))
    with SMTPSink(SinkHandler(delay=0.004)) as sink:
        env = worker_env(sink.port)
        assert issues.start_send(issue_id=issue.pk)
        send_issue.enqueue(issue.pk)
        worker = start_worker(env)
        deadline = time.monotonic() + 60
        while sink.handler.count() < 250:
            assert worker.poll() is None, worker.stderr.read().decode()
            assert time.monotonic() < deadline, "the worker sent too little"
            time.sleep(0.005)
        worker.kill()  # SIGKILL: no cleanup, mid-batch
        worker.wait()
        received_when_killed = sink.handler.count()
        assert received_when_killed < 600

        # As staff would press "Resume sending": a new task, a new worker. The dead
        # worker's claim is settled once its one-second lease has run out.
        time.sleep(1.2)
        send_issue.enqueue(issue.pk)
        resumed = start_worker(env)
        assert resumed.wait(timeout=120) == 0, resumed.stderr.read().decode()

    received = sink.handler.recipients()
    counts = issue.deliveries.counts()
    uncertain = set(
        issue.deliveries.filter(status=D.UNCERTAIN).values_list(
            "subscriber__email", flat=True
        )
    )
    sent = set(
        issue.deliveries.filter(status=D.SENT).values_list(
            "subscriber__email", flat=True
        )
    )
    # Zero duplicates among what the server accepted.
    assert max(received.values()) == 1
    # Zero recipients missed: each was sent, or is reported uncertain.
    assert sent | uncertain == everyone
    assert counts[D.SENT] + counts[D.UNCERTAIN] == 600
    # At most the one message in flight when the worker died is uncertain, and it
    # was not sent again.
    assert len(uncertain) <= 1
    assert sent <= set(received)
    assert not sent & uncertain
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    # The killed worker's claim, settled by recovery, counted each delivery once.
    assert counters.issue_counts(issue) == counters.recount(issue)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("stage", ["data", "rcpt"])
def test_stalled_worker_whose_claim_was_recovered_sends_nothing_more(
    database_tasks, stage
):
    """SIGSTOP a sending worker past its lease (while the server holds its DATA, or
    its RCPT); another worker recovers its claim and finishes the send; SIGCONT.

    The stalled worker must not send what was re-queued for others, nor overwrite
    what recovery recorded, nor hold a lock that stops sign-ups meanwhile."""
    total, lease = 800, 2
    add_subscribers(total)
    issue = scheduled_issue()
    everyone = set(Subscriber.objects.confirmed().values_list("email", flat=True))
    stopped = threading.Event()
    stopped_at = {}

    def stall(command: str, address: str) -> None:
        # In the server's thread, before it answers: the worker waits for this
        # answer, so it is stopped in the middle of SMTP I/O, at a known point.
        if command == stage and not stopped.is_set() and sink.handler.count() >= 150:
            stalled.send_signal(signal.SIGSTOP)
            stopped_at["at"] = time.monotonic()
            stopped_at["address"] = address
            stopped.set()

    with SMTPSink(SinkHandler(delay=0.005, parse=False)) as sink:
        env = worker_env(sink.port, lease=lease)
        assert issues.start_send(issue_id=issue.pk)
        send_issue.enqueue(issue.pk)
        stalled = start_worker(env)
        sink.handler.on_command = stall
        try:
            assert stopped.wait(timeout=40), stalled.stderr.read().decode()
            stalled_peers = {item.peer for item in sink.handler.accepted}
            # A sign-up writes while the worker is stopped: the worker must hold
            # no lock. A short busy timeout turns a held SQLite lock into an error.
            if connection.vendor == "sqlite":
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA busy_timeout = 2000")
            try:
                services.subscribe(email="new@example.com", source="page", ip=None)
            finally:
                if connection.vendor == "sqlite":
                    with connection.cursor() as cursor:
                        cursor.execute("PRAGMA busy_timeout = 20000")
            assert Subscriber.objects.filter(email="new@example.com").exists()

            # Past the stalled worker's lease, a second worker settles its claim
            # and sends everything else.
            time.sleep(max(0.0, stopped_at["at"] + lease + 0.5 - time.monotonic()))
            send_issue.enqueue(issue.pk)
            rescuer = start_worker(env)
            assert rescuer.wait(timeout=60) == 0, rescuer.stderr.read().decode()
            uncertain_while_stalled = set(
                issue.deliveries.filter(status=D.UNCERTAIN).values_list(
                    "subscriber__email", flat=True
                )
            )
            received_while_stalled = sink.handler.recipients()
        finally:
            stalled.send_signal(signal.SIGCONT)
        continued_at = time.monotonic()
        assert stalled.wait(timeout=30) == 0, stalled.stderr.read().decode()

    accepted = [item for item in sink.handler.accepted if item.recipient in everyone]
    received = Counter(item.recipient for item in accepted)
    counts = issue.deliveries.counts()
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
    # Zero duplicates at the server, nobody missed, the counts add up.
    assert set(received) == everyone
    assert max(received.values()) == 1
    assert sent | uncertain == everyone
    assert counts[D.SENT] + counts[D.UNCERTAIN] == total
    # Recovery could not know the fate of one message: the one the stalled
    # worker was in the middle of. It was not sent again meanwhile.
    assert uncertain_while_stalled == {stopped_at["address"]}
    assert received_while_stalled[stopped_at["address"]] == (
        1 if stage == "data" else 0
    )
    # After its claim was recovered the stalled worker sent nothing but that one
    # message: the DATA it was in, or, stopped before DATA, the message it knew
    # it had never sent (under a new claim).
    late = [
        item.recipient
        for item in accepted
        if item.at > continued_at
        or (item.at > stopped_at["at"] and item.peer in stalled_peers)
    ]
    assert late == [stopped_at["address"]]
    # Running again, that worker knew how its message went and recorded it: no
    # delivery stays uncertain whose fate a worker knows.
    assert uncertain == set()
    assert sent == everyone
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
