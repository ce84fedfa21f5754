"""Two real worker processes (manage.py db_worker) sending one issue together."""

import pytest

from newsletter.models import Delivery, Subscriber
from newsletter.tasks import start_issue_send
from tests.newsletter.test_pacing import max_in_window
from tests.newsletter.test_sending import add_subscribers, scheduled_issue
from tests.newsletter.test_worker import start_worker, worker_env
from tests.smtp_sink import SinkHandler, SMTPSink


def worker_pid(claim_worker: str) -> int:
    """The process id in a claim's worker name (delivery/claims.py worker_name)."""
    return int(claim_worker.rsplit(":", 2)[1])


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_each_message_once_within_one_shared_rate(
    database_tasks, settings
):
    total, rate = 300, 30
    settings.NEWSLETTER_WORKERS_PER_SEND = 2
    add_subscribers(total)
    issue = scheduled_issue()
    everyone = set(Subscriber.objects.confirmed().values_list("email", flat=True))
    with SMTPSink(SinkHandler(parse=False)) as sink:
        env = worker_env(sink.port, lease=300)
        # Small batches, so both workers are still claiming when the second starts.
        env.update(NEWSLETTER_RATE_PER_SECOND=str(rate), NEWSLETTER_BATCH_SIZE="20")
        # What the scheduled task does when the time comes: the deliveries, and one
        # send task per worker (NEWSLETTER_WORKERS_PER_SEND).
        assert start_issue_send.call(issue.pk)
        workers = [start_worker(env) for _ in range(2)]
        for worker in workers:
            assert worker.wait(timeout=120) == 0, worker.stderr.read().decode()

    received = sink.handler.recipients()
    assert set(received) == everyone
    assert max(received.values()) == 1
    assert issue.deliveries.counts()[Delivery.Status.SENT] == total
    by_worker = {
        worker_pid(name)
        for name in issue.deliveries.values_list("claim__worker", flat=True)
    }
    assert by_worker == {worker.pid for worker in workers}
    # One rate for both, where each worker pacing itself alone would let through
    # twice as many. Messages start 1/rate apart (newsletter/delivery/pacing.py); the
    # server sees them a moment later, and a busy machine can bunch a few closer.
    moments = sorted(item.at for item in sink.handler.accepted)
    assert moments[-1] - moments[0] >= (total - 1) / rate - 0.5
    assert max_in_window(moments, 1.0) <= rate + 3
