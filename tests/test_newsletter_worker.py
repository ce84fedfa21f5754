"""A real worker process (manage.py db_worker) killed mid-send, then resumed."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from newsletter.models import Delivery, Issue, Subscriber
from newsletter.tasks import send_issue
from tests.smtp_sink import SinkHandler, SMTPSink
from tests.test_newsletter_sending import add_subscribers, scheduled_issue

ROOT = Path(__file__).resolve().parents[1]
D = Delivery.Status


def worker_env(port: int) -> dict:
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
        NEWSLETTER_CLAIM_LEASE_SECONDS="1",
    )
    return env


def start_worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
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
        from newsletter import sending

        assert sending.start_send(issue_id=issue.pk)
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
