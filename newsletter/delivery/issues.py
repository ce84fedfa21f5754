"""Sending an issue exactly once to each confirmed subscriber: the send's
fan-out and one worker's run.

- When a send starts, one Delivery row per (issue, subscriber) is created for the
  issue's audience at that moment (confirmed, not paused, wanting this kind of issue
  and one of its topics); a unique constraint forbids a second one. A digest's
  delivery also says which part of it its reader gets (their topics, "What
  changed" or not: trimmed_deliveries), rendered once per such part.
- Workers claim batches of those deliveries (newsletter/delivery/claims.py) and
  send them one at a time through one connection, each outcome recorded before
  the next message and every write fenced by the claim: an issue's deliveries are
  one kind of send (IssueBatch) on the engine every message takes
  (newsletter/delivery/engine.py: pacing, transport, retries).
- Each attempt at one delivery has the same Message-ID, so a receiving server can
  drop a copy.
"""

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail.message import EmailMessage
from django.db import transaction
from django.db.models import QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.pagecache import content_changed
from newsletter import emails, selectors
from newsletter.delivery import engine
from newsletter.delivery.claims import (
    ClaimLost,
    ClaimWriter,
    claim_batch,
    recover_stale_claims,
    worker_name,
)
from newsletter.delivery.pacing import Pacer
from newsletter.delivery.retries import Retry
from newsletter.delivery.transport import (
    ConnectionLost,
    Transport,
)
from newsletter.models import Delivery, Issue, SendClaim, Subscriber, counters

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
        audience = Subscriber.objects.audience_of(issue)
        if issue.kind == Issue.Kind.DIGEST:
            deliveries = trimmed_deliveries(issue=issue, audience=audience)
        else:
            deliveries = (
                Delivery(issue=issue, subscriber_id=pk)
                for pk in audience.values_list("pk", flat=True).iterator()
            )
        Delivery.objects.bulk_create(deliveries, batch_size=2000, ignore_conflicts=True)
        issue.status = Issue.Status.SENDING
        issue.send_started_at = timezone.now()
        issue.recipient_count = issue.deliveries.count()
        issue.save(update_fields=["status", "send_started_at", "recipient_count"])
        counters.start(issue=issue, queued=issue.recipient_count)
    return True


def trimmed_deliveries(
    *, issue: Issue, audience: QuerySet[Subscriber]
) -> Iterator[Delivery]:
    """A digest's deliveries, each trimmed to its reader (a fixed number of
    queries, however many readers): the articles and corrections of the topics
    they chose (all, when they chose none), the "What changed" section only if
    they asked to hear of changes to the advice. A reader left with nothing gets
    no Delivery at all (the audience already leaves them out:
    SubscriberQuerySet.with_part_of, so the send page's count is exact): nothing
    was due to them, so nothing is counted as skipped or sent.

    A digest with neither articles nor corrections (written by hand) is not
    trimmed: its body is for everyone in its audience."""
    article_topics = set(
        issue.issuearticle_set.values_list("article__topic_id", flat=True)
    )
    change_topics = set(issue.corrections.values_list("article__topic_id", flat=True))
    every = article_topics | change_topics
    chosen: dict[int, set[int]] = {}
    rows = Subscriber.topics.through.objects.filter(subscriber__in=audience)
    for subscriber_id, topic_id in rows.values_list("subscriber_id", "topic_id"):
        chosen.setdefault(subscriber_id, set()).add(topic_id)
    for pk, wants_changes in audience.values_list("pk", "advice_changes").iterator():
        mine = chosen.get(pk)
        if not every:
            yield Delivery(issue=issue, subscriber_id=pk)
            continue
        shown = every if mine is None else mine & every
        changes = wants_changes and bool(shown & change_topics)
        if not (shown & article_topics or changes):
            continue
        # Only the digest's topics: readers whose other topics differ share one
        # rendering.
        yield Delivery(
            issue=issue,
            subscriber_id=pk,
            topics_shown=None if mine is None else sorted(shown),
            changes_shown=changes,
        )


class IssueBatch:
    """An issue's deliveries as one kind of send (newsletter/delivery/engine.py):
    one claimed batch, each write fenced by its claim (ClaimWriter)."""

    def __init__(
        self, *, rendered: "emails.RenderedIssue | None", writer: ClaimWriter
    ) -> None:
        self.rendered = rendered
        # The issue's versions its readers get, by IssueBatch.version().
        self.versions: dict[tuple, emails.RenderedIssue] = {}
        self.writer = writer

    def flush(self) -> None:
        self.writer.flush()

    def recipient(self, delivery: Delivery) -> Subscriber:
        return delivery.subscriber

    def attempts(self, delivery: Delivery) -> int:
        return delivery.attempts

    def is_due(self, delivery: Delivery) -> bool:
        # Whoever left since the send started, or asked for their data to be
        # deleted, receives nothing.
        subscriber = delivery.subscriber
        return (
            subscriber is not None and subscriber.status == Subscriber.Status.CONFIRMED
        )

    @staticmethod
    def version(delivery: Delivery) -> tuple[tuple[int, ...] | None, bool]:
        """Which version of the issue a delivery gets: (topics, what changed)."""
        topics = delivery.topics_shown
        return (None if topics is None else tuple(topics), delivery.changes_shown)

    def render(self, issue: Issue, deliveries: list[Delivery]) -> None:
        """Render the batch's versions before its first message: a trimmed digest
        once per set of topics (and "What changed" or not), shared by every
        reader of that set (emails.rendered_issue's cache), never per reader;
        and no read while the claim's writes may be in flight."""
        self.rendered = emails.rendered_issue(issue)
        self.versions = {
            (None, True): self.rendered,
            **{
                key: emails.rendered_issue(issue, topics=key[0], changes=key[1])
                for key in {self.version(d) for d in deliveries}
                if key != (None, True)
            },
        }

    def rendered_for(self, delivery: Delivery) -> "emails.RenderedIssue":
        return self.versions[self.version(delivery)]

    def smtp_message(self, delivery: Delivery) -> tuple[str, bytes, str]:
        rendered, subscriber = self.rendered_for(delivery), delivery.subscriber
        return (
            rendered.sender[0],
            emails.issue_payload(rendered=rendered, subscriber=subscriber),
            emails.message_id(issue=rendered.issue, subscriber=subscriber),
        )

    def api_message(self, delivery: Delivery) -> EmailMessage:
        return emails.issue_message(
            rendered=self.rendered_for(delivery), subscriber=delivery.subscriber
        )

    def guard(self, delivery: Delivery) -> None:
        self.writer.guard(delivery)

    def skipped(self, delivery: Delivery, *, error: str) -> None:
        self.writer.record(delivery, status=Delivery.Status.SKIPPED, error=error)

    def sent(
        self, delivery: Delivery, *, smtp_code: int | None, message_id: str
    ) -> None:
        self.writer.sent(delivery, smtp_code=smtp_code, message_id=message_id)

    def uncertain(self, delivery: Delivery, *, error: str) -> None:
        self.writer.record(delivery, status=Delivery.Status.UNCERTAIN, error=error)

    def failed(
        self, delivery: Delivery, *, attempts: int, code: int | None, error: str
    ) -> None:
        self.writer.record(
            delivery,
            status=Delivery.Status.FAILED,
            attempts=attempts,
            smtp_code=code,
            error=error,
        )

    def retry(self, delivery: Delivery, *, retry: Retry) -> None:
        fields = {
            "attempts": retry.attempts,
            "smtp_code": retry.code,
            "error": retry.error,
            "claim": None,
        }
        if retry.gave_up:
            self.writer.record(delivery, status=Delivery.Status.FAILED, **fields)
        else:
            self.writer.record(
                delivery,
                status=Delivery.Status.QUEUED,
                next_attempt_at=retry.at,
                **fields,
            )


# What the engine's results are called on an issue's deliveries.
STATUS_OF = {
    engine.Result.SENT: Delivery.Status.SENT,
    engine.Result.RETRY: Delivery.Status.QUEUED,
    engine.Result.FAILED: Delivery.Status.FAILED,
    engine.Result.UNCERTAIN: Delivery.Status.UNCERTAIN,
    engine.Result.SKIPPED: Delivery.Status.SKIPPED,
}


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
    # Rendered once the mail server is known to be reachable.
    batch = IssueBatch(rendered=None, writer=writer)
    outcomes: dict[str, int] = {}
    unreachable = False
    try:
        if transport.smtp and transport.backend.connection is None:
            try:
                transport.open()
            except ConnectionLost as exc:
                for delivery in deliveries:
                    engine.retry_or_fail(batch, delivery, error=exc)
                unreachable = True
        if not unreachable:
            batch.render(issue, deliveries)
        for index, delivery in enumerate([] if unreachable else deliveries):
            result, connection_lost = engine.deliver(
                batch, delivery, transport=transport, pacer=pacer
            )
            outcome = STATUS_OF[result]
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
    """Counts for the staff progress view (the issue's counters), and the
    failures with their reasons."""
    every = counters.issue_counts(issue)
    counts = {status: every[status] for status in counters.STATUS_FIELDS}
    return {
        "status": issue.status,
        "status_label": issue.get_status_display(),
        "total": sum(counts.values()),
        "counts": counts,
        # Deliveries reported bounced, complained of or left from, once each.
        "reports": {field: every[field] for field in counters.EVENT_FIELDS.values()},
        "problems": list(
            issue.deliveries.filter(
                status__in=[Delivery.Status.FAILED, Delivery.Status.UNCERTAIN]
            )
            .select_related("subscriber")
            .order_by("pk")
            .values("pk", "status", "subscriber__email", "smtp_code", "error")[:200]
        ),
    }
