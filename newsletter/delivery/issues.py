"""Sending an issue exactly once to each confirmed subscriber: the send's
fan-out and one worker's run.

- When a send starts, one Delivery row per (issue, subscriber) is created for the
  issue's audience at that moment (confirmed, not paused, wanting this kind of issue
  and one of its topics); a unique constraint forbids a second one.
- Workers claim batches of those deliveries and send them one at a time, each
  outcome recorded before the next message, every write fenced by the claim
  (newsletter/delivery/claims.py), through one connection
  (newsletter/delivery/transport.py), at the site's pace
  (newsletter/delivery/pacing.py).
- 4xx answers are retried with exponential back-off
  (newsletter/delivery/retries.py); 5xx answers fail the delivery, and a bad
  mailbox marks the subscriber bounced. Each attempt at one delivery has the same
  Message-ID, so a receiving server can drop a copy.
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.pagecache import content_changed
from newsletter import emails, selectors
from newsletter.delivery import retries
from newsletter.delivery.claims import (
    ClaimLost,
    ClaimWriter,
    claim_batch,
    recover_stale_claims,
    worker_name,
)
from newsletter.delivery.pacing import Pacer
from newsletter.delivery.transport import (
    BAD_MAILBOX_CODES,
    ConnectionLost,
    PermanentError,
    TransientError,
    Transport,
)
from newsletter.models import Delivery, Issue, SendClaim, Subscriber
from newsletter.subscriptions import unsubscribe

logger = logging.getLogger(__name__)


def start_send(*, issue_id: int) -> bool:
    """Create the deliveries of a scheduled issue whose time has come.

    Returns whether the issue is sending (so workers should run). Idempotent: a
    second call for an issue already sending creates nothing. An issue featuring
    an article that is no longer live goes back to draft, with the reason recorded.
    """
    with transaction.atomic():
        issue = Issue.objects.select_for_update().get(pk=issue_id)
        if issue.status == Issue.Status.SENDING:
            return True
        if issue.status != Issue.Status.SCHEDULED:
            return False
        if issue.scheduled_at and issue.scheduled_at > timezone.now():
            return False
        refusal = selectors.send_refusal(issue)
        if refusal:
            # Unpublished since it was scheduled: back to draft, saying why.
            issue.status = Issue.Status.DRAFT
            issue.scheduled_at = None
            issue.not_sent_reason = f"Not sent at the scheduled time: {refusal}"
            issue.save(
                update_fields=[
                    "status",
                    "scheduled_at",
                    "not_sent_reason",
                    "updated_at",
                ]
            )
            logger.warning("Issue %s not sent: %s", issue.pk, refusal)
            return False
        # The audience is taken now, once: preferences changed later count from
        # the next send.
        subscriber_ids = Subscriber.objects.audience_of(issue).values_list(
            "pk", flat=True
        )
        Delivery.objects.bulk_create(
            (
                Delivery(issue=issue, subscriber_id=pk)
                for pk in subscriber_ids.iterator()
            ),
            batch_size=2000,
            ignore_conflicts=True,
        )
        issue.status = Issue.Status.SENDING
        issue.send_started_at = timezone.now()
        issue.recipient_count = issue.deliveries.count()
        issue.save(update_fields=["status", "send_started_at", "recipient_count"])
    return True


def _retry_or_fail(
    delivery: Delivery, error: TransientError, writer: ClaimWriter
) -> str:
    retry = retries.after_failure(attempts=delivery.attempts, error=error)
    fields = {
        "attempts": retry.attempts,
        "smtp_code": retry.code,
        "error": retry.error,
        "claim": None,
    }
    if retry.gave_up:
        writer.record(delivery, status=Delivery.Status.FAILED, **fields)
        return Delivery.Status.FAILED
    writer.record(
        delivery, status=Delivery.Status.QUEUED, next_attempt_at=retry.at, **fields
    )
    return Delivery.Status.QUEUED


def send_claimed(
    *,
    issue: Issue,
    claim: SendClaim,
    deliveries: list[Delivery],
    transport: Transport,
    pacer: Pacer,
    claimed_at: float | None = None,
) -> tuple[dict[str, int], bool]:
    """Send a claimed batch in order, recording each outcome before the next.

    Returns the outcomes, and whether this worker should stop (the mail server
    cannot be reached). A lost claim ends the batch but not the worker.
    """
    writer = ClaimWriter(
        issue=issue,
        claim=claim,
        claimed_at=time.monotonic() if claimed_at is None else claimed_at,
    )
    outcomes: dict[str, int] = {}
    unreachable = False
    try:
        if transport.smtp and transport.backend.connection is None:
            try:
                transport.open()
            except ConnectionLost as exc:
                for delivery in deliveries:
                    _retry_or_fail(delivery, exc, writer)
                unreachable = True
        rendered = None if unreachable else emails.rendered_issue(issue)
        for index, delivery in enumerate([] if unreachable else deliveries):
            outcome, connection_lost = _deliver(
                delivery,
                rendered=rendered,
                transport=transport,
                pacer=pacer,
                writer=writer,
            )
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if connection_lost:
                # The connection broke: the rest of the batch was never attempted.
                writer.release(deliveries[index + 1 :])
                # A provider's API opens no connection to try first (as SMTP
                # does): stop here and come back at the retry, rather than
                # trying every remaining delivery against it.
                unreachable = not transport.smtp
                break
        writer.flush()
    except ClaimLost as exc:
        logger.warning(
            "Worker %s stopped its batch (claim %s): %s",
            claim.worker,
            claim.pk,
            exc,
        )
        writer.release(deliveries)
    writer.finish()
    return outcomes, unreachable


def _is_due(delivery: Delivery) -> bool:
    subscriber = delivery.subscriber
    return subscriber is not None and subscriber.status == Subscriber.Status.CONFIRMED


def _deliver(
    delivery: Delivery,
    *,
    rendered: "emails.RenderedIssue",
    transport: Transport,
    pacer: Pacer,
    writer: ClaimWriter,
) -> tuple[str, bool]:
    """Send one delivery and record its outcome: (outcome, connection lost)."""
    subscriber = delivery.subscriber
    # Checked at the moment of sending: whoever left since the send started, or
    # asked for their data to be deleted, receives nothing.
    if not _is_due(delivery):
        writer.record(
            delivery,
            status=Delivery.Status.SKIPPED,
            error="No longer subscribed when the message was due.",
        )
        return Delivery.Status.SKIPPED, False
    if pacer.rate > 0:
        # The pacer asks the database, on the connection that may still carry the
        # previous outcome's UPDATE: its answer must be read first.
        writer.flush()
    pacer.wait()
    try:
        if transport.smtp:
            transport.send_payload(
                sender=rendered.sender[0],
                recipient=subscriber.email,
                payload=emails.issue_payload(rendered=rendered, subscriber=subscriber),
                before_data=lambda: writer.guard(delivery),
            )
            message_id = emails.message_id(issue=rendered.issue, subscriber=subscriber)
        else:
            writer.guard(delivery)
            message_id = transport.send_message(
                emails.issue_message(rendered=rendered, subscriber=subscriber)
            )
    except ConnectionLost as exc:
        if not exc.maybe_delivered:
            return _retry_or_fail(delivery, exc, writer), True
        writer.record(
            delivery,
            status=Delivery.Status.UNCERTAIN,
            error=f"Connection lost during sending: {exc.reason}"[:500],
        )
        return Delivery.Status.UNCERTAIN, True
    except PermanentError as exc:
        # The mailbox is gone whatever becomes of this worker's claim.
        writer.flush()
        if exc.code in BAD_MAILBOX_CODES:
            unsubscribe(
                subscriber=subscriber, how=Subscriber.LeftHow.BOUNCE, detail=exc.reason
            )
        writer.record(
            delivery,
            status=Delivery.Status.FAILED,
            attempts=delivery.attempts + 1,
            smtp_code=exc.code,
            error=exc.reason,
        )
        return Delivery.Status.FAILED, False
    except TransientError as exc:
        return _retry_or_fail(delivery, exc, writer), False
    writer.sent(
        delivery, smtp_code=250 if transport.smtp else None, message_id=message_id
    )
    return Delivery.Status.SENT, False


def finish_if_done(*, issue: Issue) -> bool:
    """Mark the issue sent once nothing is queued or in flight."""
    pending = issue.deliveries.filter(
        status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING]
    ).exists()
    if pending:
        return False
    # An issue sent again (uncertain deliveries re-queued) keeps its first date.
    with transaction.atomic():
        finished = Issue.objects.filter(
            pk=issue.pk, status=Issue.Status.SENDING
        ).update(
            status=Issue.Status.SENT,
            sent_at=Coalesce("sent_at", Value(timezone.now())),
            updated_at=timezone.now(),
        )
        if finished:
            # The issue is in the public archive now.
            content_changed(
                paths=selectors.archive_paths(issue), reason=f"issue {issue.pk} sent"
            )
    return True


@dataclass
class RunResult:
    outcomes: dict[str, int]
    recovered_uncertain: int
    next_retry_at: object  # datetime | None
    finished: bool
    # When the oldest claim still open (another worker's) can be settled if its
    # worker died: its last heartbeat plus the lease.
    claim_expires_at: object = None  # datetime | None


def run(*, issue_id: int, worker: str | None = None) -> RunResult:
    """One worker's share of a send: claim and send batches until none are due."""
    issue = Issue.objects.get(pk=issue_id)
    worker = worker or worker_name()
    totals: dict[str, int] = {}
    uncertain = recover_stale_claims(issue=issue)
    if issue.status != Issue.Status.SENDING:
        return RunResult(totals, uncertain, None, issue.status == Issue.Status.SENT)
    transport = Transport()
    pacer = Pacer(rate=settings.NEWSLETTER_RATE_PER_SECOND)
    try:
        while True:
            claimed_at = time.monotonic()
            claim, deliveries = claim_batch(
                issue=issue, worker=worker, size=settings.NEWSLETTER_BATCH_SIZE
            )
            if claim is None:
                break
            outcomes, unreachable = send_claimed(
                issue=issue,
                claim=claim,
                deliveries=deliveries,
                transport=transport,
                pacer=pacer,
                claimed_at=claimed_at,
            )
            for status, count in outcomes.items():
                totals[status] = totals.get(status, 0) + count
            if unreachable:
                break
    finally:
        transport.close()
    finished = finish_if_done(issue=issue)
    next_retry = (
        issue.deliveries.filter(status=Delivery.Status.QUEUED)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    oldest_beat = (
        SendClaim.objects.filter(issue=issue, finished_at=None)
        .order_by("heartbeat_at")
        .values_list("heartbeat_at", flat=True)
        .first()
    )
    expires = oldest_beat and oldest_beat + timedelta(
        seconds=settings.NEWSLETTER_CLAIM_LEASE_SECONDS
    )
    return RunResult(totals, uncertain, next_retry, finished, expires)


def progress(*, issue: Issue) -> dict:
    """Counts for the staff progress view, and the failures with their reasons."""
    counts = issue.deliveries.counts()
    return {
        "status": issue.status,
        "status_label": issue.get_status_display(),
        "total": sum(counts.values()),
        "counts": counts,
        "problems": list(
            issue.deliveries.filter(
                status__in=[Delivery.Status.FAILED, Delivery.Status.UNCERTAIN]
            )
            .select_related("subscriber")
            .order_by("pk")
            .values("pk", "status", "subscriber__email", "smtp_code", "error")[:200]
        ),
    }
