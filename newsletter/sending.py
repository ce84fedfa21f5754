"""Sending an issue exactly once to each confirmed subscriber.

How a send stays exact when workers die:

- When a send starts, one Delivery row per (issue, subscriber) is created for the
  subscribers confirmed at that moment; a unique constraint forbids a second one.
- A worker claims a batch of queued deliveries under a SendClaim (PostgreSQL:
  SELECT ... FOR UPDATE SKIP LOCKED; SQLite: the IMMEDIATE transaction holds the
  write lock), then sends them one by one in ascending id over one SMTP connection,
  recording each outcome before starting the next message.
- So if a worker dies, at most one delivery of its claim can be in flight: the lowest
  id still marked "sending". Recovery marks that one uncertain (reported to staff,
  never resent blindly) and puts the rest of the claim back in the queue. A claim is
  dead when its heartbeat is older than NEWSLETTER_CLAIM_LEASE_SECONDS.
- 4xx answers are retried with exponential back-off; 5xx answers fail the delivery,
  and a bad mailbox marks the subscriber bounced. Each attempt at one delivery has
  the same Message-ID, so a receiving server can drop a copy.
"""

import logging
import os
import smtplib
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import EmailMessage
from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from django.utils import timezone
from psycopg import pq

from newsletter import emails, selectors
from newsletter.models import Delivery, Issue, SendClaim, Subscriber
from newsletter.subscriptions import unsubscribe

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_SECONDS = 5
# Permanent SMTP answers that mean the mailbox does not exist or cannot receive.
BAD_MAILBOX_CODES = {550, 551, 553}


class TransientError(Exception):
    def __init__(self, code: int | None, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class PermanentError(TransientError):
    pass


class ConnectionLost(TransientError):
    """The connection broke. `maybe_delivered` when it broke during DATA."""

    def __init__(self, reason: str, *, maybe_delivered: bool):
        super().__init__(None, reason)
        self.maybe_delivered = maybe_delivered


def _reply_text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _reset(connection: smtplib.SMTP) -> None:
    """Forget a refused message so the connection can carry the next one."""
    try:
        connection.rset()
    except (smtplib.SMTPException, OSError):
        logger.info("RSET failed; the next message will reconnect", exc_info=True)


def _classify(code: int, reply: bytes | str) -> TransientError:
    reason = f"{code} {_reply_text(reply)}"[:500]
    if 400 <= code < 500:
        return TransientError(code, reason)
    return PermanentError(code, reason)


class Transport:
    """Sends one message at a time and says exactly how each one went."""

    def __init__(self) -> None:
        self.backend = get_connection(fail_silently=False)
        self.smtp = isinstance(self.backend, SMTPBackend)

    def open(self) -> None:
        try:
            self.backend.open()
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionLost(
                f"Cannot connect: {exc}", maybe_delivered=False
            ) from exc

    def close(self) -> None:
        try:
            self.backend.close()
        except (OSError, smtplib.SMTPException):
            logger.warning("Closing the mail connection failed", exc_info=True)

    def send_message(self, message: EmailMessage) -> None:
        """Console, file and memory backends: used in development and tests."""
        if self.backend.send_messages([message]) != 1:
            raise TransientError(None, "The mail backend did not send the message.")

    def send_payload(
        self,
        *,
        sender: str,
        recipient: str,
        payload: bytes,
        before_data: Callable[[], None] = lambda: None,
    ) -> None:
        """Send one message over the open SMTP connection, step by step.

        MAIL, RCPT and DATA are sent one at a time so that a refusal or a broken
        connection is known to have happened before or during DATA: only a break
        during DATA leaves it unknown whether the message was taken.
        """
        connection = self.backend.connection
        if connection is None:
            self.open()
            connection = self.backend.connection
        try:
            connection.ehlo_or_helo_if_needed()
            # docmd() rather than mail()/rcpt(): those parse each address with the
            # email package, a measurable cost per recipient; our addresses are
            # validated when they are stored, and smtplib refuses CR/LF in commands.
            code, reply = connection.docmd("mail", f"FROM:<{sender}>")
            if code != 250:
                _reset(connection)
                raise _classify(code, reply)
            code, reply = connection.docmd("rcpt", f"TO:<{recipient}>")
            if code not in (250, 251):
                _reset(connection)
                raise _classify(code, reply)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.backend.connection = None
            raise ConnectionLost(str(exc), maybe_delivered=False) from exc
        before_data()
        try:
            # data() raises when DATA itself is refused, but returns the answer to
            # the message: both must be checked.
            code, reply = connection.data(payload)
        except smtplib.SMTPDataError as exc:
            _reset(connection)
            raise _classify(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # The message may have been taken before the connection broke.
            self.backend.connection = None
            raise ConnectionLost(str(exc), maybe_delivered=True) from exc
        if code != 250:
            _reset(connection)
            raise _classify(code, reply)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


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
        refusal = selectors.featured_refusal(issue)
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
        subscriber_ids = Subscriber.objects.confirmed().values_list("pk", flat=True)
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


def recover_stale_claims(*, issue: Issue, lease: timedelta | None = None) -> int:
    """Settle the claims of dead workers. Returns how many were uncertain."""
    if lease is None:
        lease = timedelta(seconds=settings.NEWSLETTER_CLAIM_LEASE_SECONDS)
    uncertain = 0
    stale = SendClaim.objects.filter(
        issue=issue, finished_at=None, heartbeat_at__lt=timezone.now() - lease
    )
    for claim in stale:
        with transaction.atomic():
            open_rows = Delivery.objects.filter(
                claim=claim, status=Delivery.Status.SENDING
            ).order_by("pk")
            in_flight = open_rows.first()
            if in_flight is not None:
                uncertain += 1
                Delivery.objects.filter(pk=in_flight.pk).update(
                    status=Delivery.Status.UNCERTAIN,
                    error="The worker stopped while sending this message; it may or "
                    "may not have gone out, so it was not sent again.",
                    updated_at=timezone.now(),
                )
                open_rows.exclude(pk=in_flight.pk).update(
                    status=Delivery.Status.QUEUED, claim=None, updated_at=timezone.now()
                )
            SendClaim.objects.filter(pk=claim.pk).update(finished_at=timezone.now())
    return uncertain


def claim_batch(*, issue: Issue, worker: str, size: int) -> tuple[SendClaim, list]:
    """Take up to `size` due deliveries for this worker; ([], None) when none."""
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(
                issue=issue,
                status=Delivery.Status.QUEUED,
                next_attempt_at__lte=timezone.now(),
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:size]
        )
        if not ids:
            return None, []
        claim = SendClaim.objects.create(issue=issue, worker=worker)
        Delivery.objects.filter(pk__in=ids).update(
            status=Delivery.Status.SENDING, claim=claim, updated_at=timezone.now()
        )
    deliveries = list(
        Delivery.objects.filter(claim=claim, status=Delivery.Status.SENDING)
        .select_related("subscriber")
        .order_by("pk")
    )
    return claim, deliveries


@dataclass
class Pacer:
    """Keeps one worker under NEWSLETTER_RATE_PER_SECOND messages a second."""

    rate: float
    next_at: float = 0.0

    def wait(self) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + 1 / self.rate


def _record(delivery: Delivery, **fields) -> None:
    fields["updated_at"] = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(**fields)


TABLE = Delivery._meta.db_table
SENT_SQL = (
    "UPDATE {table} SET status = 'sent', attempts = attempts + 1, "
    "sent_at = {now}, smtp_code = {code}, error = '', updated_at = {now} "
    "WHERE id = {pk}"
)


class SentWriter:
    """Records sent deliveries: the one database write per recipient.

    On PostgreSQL the UPDATE for message i is sent without waiting (libpq's
    asynchronous API on the same connection) and confirmed by flush(), which runs
    before message i+1's DATA: the commit's round trip overlaps that message's MAIL
    and RCPT, and no DATA ever starts while an earlier outcome is unrecorded. On
    SQLite a write is local and quick, so it is made at once.
    """

    def __init__(self) -> None:
        self.pending = False
        self.pgconn = None
        if db_connection.vendor == "postgresql":
            db_connection.ensure_connection()
            self.pgconn = db_connection.connection.pgconn

    def sent(self, delivery: Delivery, *, smtp_code: int | None) -> None:
        self.flush()
        now = timezone.now()
        if self.pgconn is None:
            with db_connection.cursor() as cursor:
                cursor.execute(
                    SENT_SQL.format(table=TABLE, now="%s", code="%s", pk="%s"),
                    [now, smtp_code, now, delivery.pk],
                )
            return
        self.pgconn.send_query_params(
            SENT_SQL.format(table=TABLE, now="$1", code="$2", pk="$3").encode(),
            [
                now.isoformat().encode(),
                None if smtp_code is None else str(smtp_code).encode(),
                str(delivery.pk).encode(),
            ],
        )
        self.pending = True

    def flush(self) -> None:
        """Wait until the last recorded outcome is committed."""
        if not self.pending:
            return
        self.pending = False
        error = None
        while (result := self.pgconn.get_result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK:
                error = result.error_message.decode(errors="replace")
        if error:
            raise DatabaseError(f"Recording a sent delivery failed: {error}")


def _retry_or_fail(delivery: Delivery, error: TransientError) -> str:
    attempts = delivery.attempts + 1
    if attempts >= settings.NEWSLETTER_MAX_ATTEMPTS:
        _record(
            delivery,
            status=Delivery.Status.FAILED,
            attempts=attempts,
            smtp_code=error.code,
            error=f"Gave up after {attempts} attempts: {error.reason}"[:500],
            claim=None,
        )
        return Delivery.Status.FAILED
    delay = settings.NEWSLETTER_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    _record(
        delivery,
        status=Delivery.Status.QUEUED,
        attempts=attempts,
        smtp_code=error.code,
        error=error.reason[:500],
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        claim=None,
    )
    return Delivery.Status.QUEUED


def send_claimed(
    *,
    issue: Issue,
    claim: SendClaim,
    deliveries: list[Delivery],
    transport: Transport,
    pacer: Pacer,
) -> dict[str, int]:
    """Send a claimed batch in order, recording each outcome before the next."""
    rendered = emails.rendered_issue(issue)
    outcomes: dict[str, int] = {}
    last_beat = time.monotonic()
    writer = SentWriter()
    for index, delivery in enumerate(deliveries):
        if time.monotonic() - last_beat > HEARTBEAT_EVERY_SECONDS:
            writer.flush()
            SendClaim.objects.filter(pk=claim.pk).update(heartbeat_at=timezone.now())
            last_beat = time.monotonic()
        outcome, connection_lost = _deliver(
            delivery, rendered=rendered, transport=transport, pacer=pacer, writer=writer
        )
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if connection_lost:
            # The connection broke: the rest of the batch was never attempted.
            rest = [d.pk for d in deliveries[index + 1 :]]
            Delivery.objects.filter(pk__in=rest).update(
                status=Delivery.Status.QUEUED, claim=None, updated_at=timezone.now()
            )
            break
    writer.flush()
    SendClaim.objects.filter(pk=claim.pk).update(finished_at=timezone.now())
    return outcomes


def _is_due(delivery: Delivery) -> bool:
    subscriber = delivery.subscriber
    return subscriber is not None and subscriber.status == Subscriber.Status.CONFIRMED


def _deliver(
    delivery: Delivery,
    *,
    rendered: "emails.RenderedIssue",
    transport: Transport,
    pacer: Pacer,
    writer: SentWriter,
) -> tuple[str, bool]:
    """Send one delivery and record its outcome: (outcome, connection lost)."""
    subscriber = delivery.subscriber
    # Checked at the moment of sending: whoever left since the send started, or
    # asked for their data to be deleted, receives nothing.
    if not _is_due(delivery):
        writer.flush()
        _record(
            delivery,
            status=Delivery.Status.SKIPPED,
            error="No longer subscribed when the message was due.",
        )
        return Delivery.Status.SKIPPED, False
    pacer.wait()
    try:
        try:
            if transport.smtp:
                transport.send_payload(
                    sender=rendered.sender[0],
                    recipient=subscriber.email,
                    payload=emails.issue_payload(
                        rendered=rendered, subscriber=subscriber
                    ),
                    before_data=writer.flush,
                )
            else:
                writer.flush()
                transport.send_message(
                    emails.issue_message(rendered=rendered, subscriber=subscriber)
                )
        finally:
            # Whatever happened, the previous outcome is committed before this one.
            writer.flush()
    except ConnectionLost as exc:
        if not exc.maybe_delivered:
            return _retry_or_fail(delivery, exc), True
        _record(
            delivery,
            status=Delivery.Status.UNCERTAIN,
            error=f"Connection lost during sending: {exc.reason}"[:500],
        )
        return Delivery.Status.UNCERTAIN, True
    except PermanentError as exc:
        _record(
            delivery,
            status=Delivery.Status.FAILED,
            attempts=delivery.attempts + 1,
            smtp_code=exc.code,
            error=exc.reason,
        )
        if exc.code in BAD_MAILBOX_CODES:
            unsubscribe(
                subscriber=subscriber, how=Subscriber.LeftHow.BOUNCE, detail=exc.reason
            )
        return Delivery.Status.FAILED, False
    except TransientError as exc:
        return _retry_or_fail(delivery, exc), False
    writer.sent(delivery, smtp_code=250 if transport.smtp else None)
    return Delivery.Status.SENT, False


def finish_if_done(*, issue: Issue) -> bool:
    """Mark the issue sent once nothing is queued or in flight."""
    pending = issue.deliveries.filter(
        status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING]
    ).exists()
    if pending:
        return False
    Issue.objects.filter(pk=issue.pk, status=Issue.Status.SENDING).update(
        status=Issue.Status.SENT, sent_at=timezone.now(), updated_at=timezone.now()
    )
    return True


@dataclass
class RunResult:
    outcomes: dict[str, int]
    recovered_uncertain: int
    next_retry_at: object  # datetime | None
    finished: bool


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
            claim, deliveries = claim_batch(
                issue=issue, worker=worker, size=settings.NEWSLETTER_BATCH_SIZE
            )
            if claim is None:
                break
            if transport.smtp and transport.backend.connection is None:
                try:
                    transport.open()
                except ConnectionLost as exc:
                    for delivery in deliveries:
                        _retry_or_fail(delivery, exc)
                    SendClaim.objects.filter(pk=claim.pk).update(
                        finished_at=timezone.now()
                    )
                    break
            outcomes = send_claimed(
                issue=issue,
                claim=claim,
                deliveries=deliveries,
                transport=transport,
                pacer=pacer,
            )
            for status, count in outcomes.items():
                totals[status] = totals.get(status, 0) + count
    finally:
        transport.close()
    finished = finish_if_done(issue=issue)
    next_retry = (
        issue.deliveries.filter(status=Delivery.Status.QUEUED)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return RunResult(totals, uncertain, next_retry, finished)


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
