"""Sending an issue exactly once to each confirmed subscriber.

How a send stays exact when workers die:

- When a send starts, one Delivery row per (issue, subscriber) is created for the
  issue's audience at that moment (confirmed, not paused, wanting this kind of issue
  and one of its topics); a unique constraint forbids a second one.
- A worker claims a batch of queued deliveries under a SendClaim (PostgreSQL:
  SELECT ... FOR UPDATE SKIP LOCKED; SQLite: the IMMEDIATE transaction holds the
  write lock), then sends them one by one in ascending id over one SMTP connection,
  recording each outcome before starting the next message.
- So if a worker dies, at most one delivery of its claim can be in flight: the lowest
  id still marked "sending". Recovery marks that one uncertain (reported to staff,
  never resent blindly) and puts the rest of the claim back in the queue. A claim is
  dead when its heartbeat is older than NEWSLETTER_CLAIM_LEASE_SECONDS.
- Every write a worker makes for its batch is fenced by its claim: it changes a row
  only while that row is still "sending" under this claim. A worker that stalled
  (SIGSTOP, a VM pause, a long GC) past its lease and lost its claim to recovery
  finds out at its next write or heartbeat, and stops before its next DATA; it also
  stops by itself before DATA once half its lease has passed without a confirmed
  heartbeat (time.monotonic() keeps running while a process is stopped). So after
  losing its claim a worker sends at most the one message recovery counted as
  uncertain, and when it runs again it records how that message really went.
- No write transaction is ever open during SMTP I/O: a claim is one UPDATE, each
  outcome one autocommitted UPDATE (on SQLite a stopped writer would otherwise
  block every other writer of the database).
- 4xx answers are retried with exponential back-off; 5xx answers fail the delivery,
  and a bad mailbox marks the subscriber bounced. Each attempt at one delivery has
  the same Message-ID, so a receiving server can drop a copy.
- Through an email provider's API (django-anymail, DJANGO_EMAIL_PROVIDER) the same
  holds: a refused recipient fails the delivery, 429 and 5xx answers are retried,
  a connection that never opened is retried, and one that broke after the request
  may have gone out is uncertain, never resent blindly.
- A sent delivery records the id its message was accepted under (our Message-ID
  over SMTP, the provider's id through its API) in the same write, so bounces and
  complaints reported later find it (newsletter/bounces.py).
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

import botocore.exceptions
import requests
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import EmailMessage
from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from psycopg import pq
from urllib3.exceptions import NewConnectionError

from core import dkim_signing
from core.pagecache import content_changed
from newsletter import emails, pacing, selectors
from newsletter.models import Delivery, Issue, SendClaim, Subscriber
from newsletter.subscriptions import unsubscribe

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_SECONDS = 5
# Permanent SMTP answers that mean the mailbox does not exist or cannot receive.
BAD_MAILBOX_CODES = {550, 551, 553}


class DeliveryError(Exception):
    """One message was not sent: the server's code (if any) and why."""

    def __init__(self, code: int | None, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class TransientError(DeliveryError):
    """A 4xx answer or a broken connection: worth trying again later."""


class PermanentError(DeliveryError):
    """A 5xx answer: this message will not be accepted; never retried."""


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


def _classify(code: int, reply: bytes | str) -> DeliveryError:
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

    def send_message(self, message: EmailMessage) -> str:
        """Email providers' APIs (django-anymail), and the console, file and memory
        backends of development and tests. Returns the id the message was accepted
        under: the provider's, or else our own Message-ID."""
        try:
            sent = self.backend.send_messages([message])
        except AnymailRecipientsRefused as exc:
            raise PermanentError(None, f"Refused by the provider: {exc}"[:500]) from exc
        except AnymailAPIError as exc:
            raise _api_error(exc) from exc
        if sent != 1:
            raise TransientError(None, "The mail backend did not send the message.")
        status = getattr(message, "anymail_status", None)
        if status is not None and status.message_id is not None:
            return str(status.message_id)[:255]
        return str(message.extra_headers.get("Message-ID", ""))[:255]

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
        if isinstance(self.backend, dkim_signing.EmailBackend):
            payload = self.backend.sign_payload(payload)
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
        try:
            before_data()
        except BaseException:
            # Not sending after all (e.g. the claim is lost): end the SMTP
            # transaction so the connection can carry another message.
            _reset(connection)
            raise
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


# An email provider's API answers that mean this account cannot send right now (a
# wrong key, a suspended account): like an SMTP server that cannot be reached.
API_ACCOUNT_CODES = {401, 403}
# Failures that happened before a request could reach the provider.
NOT_CONNECTED = (
    requests.ConnectTimeout,
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectTimeoutError,
)


def _api_status(exc: AnymailAPIError) -> int | None:
    if exc.status_code is not None:
        return exc.status_code
    # Amazon SES (boto3): the HTTP status is in the client error's response.
    response = getattr(exc.__cause__, "response", None)
    if isinstance(response, dict):
        return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


def _never_connected(cause: BaseException | None) -> bool:
    if isinstance(cause, NOT_CONNECTED):
        return True
    # requests raises ConnectionError for a refused or unresolved connection and
    # for one that broke mid-request alike; only the first is known unsent.
    reason = getattr(cause.args[0], "reason", None) if cause and cause.args else None
    return isinstance(cause, requests.ConnectionError) and isinstance(
        reason, NewConnectionError
    )


def _api_error(exc: AnymailAPIError) -> DeliveryError:
    """What an email provider's refusal or failure means for one delivery."""
    code = _api_status(exc)
    reason = " ".join(str(exc).split())[:500] or exc.__class__.__name__
    if code is None:
        if _never_connected(exc.__cause__):
            return ConnectionLost(reason, maybe_delivered=False)
        # The request may have reached the provider before the connection broke.
        return ConnectionLost(reason, maybe_delivered=True)
    if code in API_ACCOUNT_CODES:
        return ConnectionLost(f"{code} {reason}"[:500], maybe_delivered=False)
    if code == 429 or code >= 500:
        return TransientError(code, reason)
    return PermanentError(code, reason)


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


UNCERTAIN_ERROR = (
    "The worker stopped while sending this message; it may or may not have gone "
    "out, so it was not sent again."
)


def recover_stale_claims(*, issue: Issue, lease: timedelta | None = None) -> int:
    """Settle the claims of dead workers. Returns how many were uncertain."""
    if lease is None:
        lease = timedelta(seconds=settings.NEWSLETTER_CLAIM_LEASE_SECONDS)
    uncertain = 0
    cutoff = timezone.now() - lease
    stale = SendClaim.objects.filter(
        issue=issue, finished_at=None, heartbeat_at__lt=cutoff
    )
    for claim_id in list(stale.values_list("pk", flat=True)):
        with transaction.atomic():
            # Checked again under lock: its worker may have beaten since, and its
            # fenced writes wait for (PostgreSQL) or follow (SQLite) this one.
            if not stale.select_for_update().filter(pk=claim_id).exists():
                continue
            open_ids = list(
                Delivery.objects.select_for_update()
                .filter(claim_id=claim_id, status=Delivery.Status.SENDING)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            if open_ids:
                uncertain += 1
                Delivery.objects.filter(pk=open_ids[0]).update(
                    status=Delivery.Status.UNCERTAIN,
                    error=UNCERTAIN_ERROR,
                    updated_at=timezone.now(),
                )
                Delivery.objects.filter(
                    claim_id=claim_id, status=Delivery.Status.SENDING
                ).update(
                    status=Delivery.Status.QUEUED, claim=None, updated_at=timezone.now()
                )
            SendClaim.objects.filter(pk=claim_id).update(finished_at=timezone.now())
    return uncertain


TABLE = Delivery._meta.db_table
# One statement, so that on SQLite the write lock is held for that statement only
# (a worker stopped inside a longer transaction would block every writer).
CLAIM_SQL = (
    "UPDATE {table} SET status = 'sending', claim_id = %s, updated_at = %s "
    "WHERE id IN (SELECT id FROM {table} WHERE issue_id = %s AND status = 'queued' "
    "AND next_attempt_at <= %s ORDER BY id LIMIT %s{lock})"
)


def claim_batch(
    *, issue: Issue, worker: str, size: int
) -> tuple[SendClaim | None, list[Delivery]]:
    """Take up to `size` due deliveries for this worker; (None, []) when none."""
    claim = SendClaim.objects.create(issue=issue, worker=worker)
    now = timezone.now()
    lock = " FOR UPDATE SKIP LOCKED" if db_connection.vendor == "postgresql" else ""
    with db_connection.cursor() as cursor:
        cursor.execute(
            CLAIM_SQL.format(table=TABLE, lock=lock),
            [
                _claim_value(claim),
                db_connection.ops.adapt_datetimefield_value(now),
                issue.pk,
                db_connection.ops.adapt_datetimefield_value(now),
                size,
            ],
        )
        claimed = cursor.rowcount
    if not claimed:
        claim.delete()
        return None, []
    deliveries = list(
        Delivery.objects.filter(claim=claim, status=Delivery.Status.SENDING)
        .select_related("subscriber")
        .order_by("pk")
    )
    return claim, deliveries


def _claim_value(claim: SendClaim):
    return SendClaim._meta.pk.get_db_prep_value(claim.pk, db_connection)


@dataclass
class Pacer:
    """Keeps all workers together under NEWSLETTER_RATE_PER_SECOND messages a
    second (newsletter/pacing.py)."""

    rate: float

    def wait(self) -> None:
        pacing.wait_for_slot(rate=self.rate)


class ClaimLost(Exception):
    """This worker may no longer send its batch: another settled its claim."""


class LeaseRunningOut(ClaimLost):
    """Too long since the last confirmed heartbeat: let the batch go before DATA."""


SENT_SQL = (
    "UPDATE {table} SET status = 'sent', attempts = attempts + 1, "
    "sent_at = {now}, smtp_code = {code}, provider_message_id = {mid}, error = '', "
    "updated_at = {now} "
    "WHERE id = {pk} AND claim_id = {claim} AND status = 'sending'"
)
# Beyond this share of the lease without a confirmed heartbeat a worker starts no
# more messages: another may settle its claim at any moment.
LEASE_SAFETY = 0.5
SENT_LATE_NOTE = "Recorded by its worker after another had marked it uncertain."
REQUEUED_LATE_NOTE = (
    "Its worker had not started sending it when another marked it uncertain; "
    "queued again."
)


class ClaimWriter:
    """Every write a worker makes for one claimed batch, fenced by that claim.

    A write changes a delivery only while it is still "sending" under this claim;
    one that matches nothing means recovery settled the claim, and raises
    ClaimLost. guard() runs just before each DATA: it waits until the previous
    outcome is committed, beats the claim's heartbeat when due, and refuses to go
    on when the lease may have run out.

    Recording a sent message is the one write per recipient. On PostgreSQL the
    UPDATE for message i is sent without waiting (libpq's asynchronous API on the
    same connection) and confirmed by flush(), before message i+1's DATA: the
    commit's round trip overlaps that message's MAIL and RCPT. On SQLite a write is
    local and quick, so it is made at once. Either way it is one autocommitted
    statement: no transaction stays open while SMTP talks.
    """

    def __init__(self, *, issue: Issue, claim: SendClaim, claimed_at: float) -> None:
        self.issue = issue
        self.claim = claim
        self.claim_value = _claim_value(claim)
        lease = settings.NEWSLETTER_CLAIM_LEASE_SECONDS
        self.safe_for = lease * LEASE_SAFETY
        self.beat_every = min(HEARTBEAT_EVERY_SECONDS, lease / 4)
        # time.monotonic() just before the heartbeat now in the database was taken.
        self.beat_at = claimed_at
        # Deliveries up to this id have had their DATA started or their outcome
        # recorded; only those after it can be given back untouched.
        self.started_pk = 0
        self.pending: Delivery | None = None
        self.pending_code: int | None = None
        self.pending_message_id = ""
        self.lost: ClaimLost | None = None
        self.pgconn = None
        if db_connection.vendor == "postgresql":
            db_connection.ensure_connection()
            self.pgconn = db_connection.connection.pgconn

    # Before DATA -------------------------------------------------------------

    def guard(self, delivery: Delivery) -> None:
        """Called right before DATA: may this worker still send `delivery`?"""
        self.flush()
        since = time.monotonic() - self.beat_at
        if since >= self.safe_for:
            raise LeaseRunningOut(
                f"{since:.1f} s since the claim's last confirmed heartbeat"
            )
        if since >= self.beat_every:
            self.beat()
        self.started_pk = delivery.pk

    def beat(self) -> None:
        self.flush()
        started = time.monotonic()
        alive = SendClaim.objects.filter(pk=self.claim.pk, finished_at=None).update(
            heartbeat_at=timezone.now()
        )
        if not alive:
            raise ClaimLost("the claim was settled by another worker")
        self.beat_at = started

    # Outcomes ----------------------------------------------------------------

    def record(self, delivery: Delivery, **fields) -> None:
        """Record an outcome other than sent (retry, failure, skip, uncertain)."""
        self.flush()
        self.started_pk = max(self.started_pk, delivery.pk)
        fields["updated_at"] = timezone.now()
        mine = Delivery.objects.filter(pk=delivery.pk, claim_id=self.claim.pk)
        if not mine.filter(status=Delivery.Status.SENDING).update(**fields):
            self._late(mine, fields)

    def sent(
        self, delivery: Delivery, *, smtp_code: int | None, message_id: str
    ) -> None:
        self.flush()
        now = timezone.now()
        if self.pgconn is None:
            with db_connection.cursor() as cursor:
                cursor.execute(
                    SENT_SQL.format(
                        table=TABLE,
                        now="%s",
                        code="%s",
                        mid="%s",
                        pk="%s",
                        claim="%s",
                    ),
                    [
                        db_connection.ops.adapt_datetimefield_value(now),
                        smtp_code,
                        message_id,
                        db_connection.ops.adapt_datetimefield_value(now),
                        delivery.pk,
                        self.claim_value,
                    ],
                )
                recorded = cursor.rowcount
            if not recorded:
                self._sent_late(delivery, smtp_code, message_id)
            return
        self.pgconn.send_query_params(
            SENT_SQL.format(
                table=TABLE, now="$1", code="$2", mid="$5", pk="$3", claim="$4"
            ).encode(),
            [
                now.isoformat().encode(),
                None if smtp_code is None else str(smtp_code).encode(),
                str(delivery.pk).encode(),
                str(self.claim.pk).encode(),
                message_id.encode(),
            ],
        )
        self.pending = delivery
        self.pending_code = smtp_code
        self.pending_message_id = message_id

    def flush(self) -> None:
        """Wait until the last recorded outcome is committed; check it counted.

        Raises ClaimLost (once) when an outcome could only be recorded late.
        """
        if self.pending is not None:
            self._confirm()
        if self.lost is not None:
            lost, self.lost = self.lost, None
            raise lost

    def _confirm(self) -> None:
        delivery, self.pending = self.pending, None
        error = None
        recorded = 0
        while (result := self.pgconn.get_result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK:
                error = result.error_message.decode(errors="replace")
            else:
                recorded += result.command_tuples or 0
        if error:
            raise DatabaseError(f"Recording a sent delivery failed: {error}")
        if not recorded:
            self._sent_late(delivery, self.pending_code, self.pending_message_id)

    def _sent_late(
        self, delivery: Delivery, smtp_code: int | None, message_id: str
    ) -> None:
        mine = Delivery.objects.filter(pk=delivery.pk, claim_id=self.claim.pk)
        self._late(
            mine,
            {
                "status": Delivery.Status.SENT,
                "attempts": delivery.attempts + 1,
                "sent_at": timezone.now(),
                "smtp_code": smtp_code,
                "provider_message_id": message_id,
                "error": SENT_LATE_NOTE,
                "updated_at": timezone.now(),
            },
        )

    def _late(self, mine, fields: dict) -> None:
        """Recovery marked this message uncertain, not knowing how it went. This
        worker knows: it records the truth (the row is still this claim's, so staff
        have not queued it again), then stops before its next message."""
        self.lost = ClaimLost("the claim was settled while a message was out")
        if mine.filter(status=Delivery.Status.UNCERTAIN).update(**fields) and (
            fields.get("status") == Delivery.Status.QUEUED
        ):
            reopen_issue(issue=self.issue)

    # The rest of the batch ---------------------------------------------------

    def release(self, deliveries: list[Delivery]) -> None:
        """Give back the deliveries this worker never started sending."""
        self.flush()
        ids = [d.pk for d in deliveries if d.pk > self.started_pk]
        if not ids:
            return
        mine = Delivery.objects.filter(pk__in=ids, claim_id=self.claim.pk)
        back = {"status": Delivery.Status.QUEUED, "claim": None}
        mine.filter(status=Delivery.Status.SENDING).update(
            **back, updated_at=timezone.now()
        )
        # Recovery marks the lowest open delivery uncertain; if this worker had
        # not started it, it is known unsent and goes back in the queue.
        if mine.filter(status=Delivery.Status.UNCERTAIN).update(
            **back, error=REQUEUED_LATE_NOTE, updated_at=timezone.now()
        ):
            reopen_issue(issue=self.issue)

    def finish(self) -> bool:
        """Close the claim. False when recovery had already closed it."""
        self.flush()
        return bool(
            SendClaim.objects.filter(pk=self.claim.pk, finished_at=None).update(
                finished_at=timezone.now()
            )
        )


def reopen_issue(*, issue: Issue) -> None:
    """A sent issue whose deliveries are queued again is sending until they are."""
    Issue.objects.filter(pk=issue.pk, status=Issue.Status.SENT).update(
        status=Issue.Status.SENDING, updated_at=timezone.now()
    )


def _retry_or_fail(
    delivery: Delivery, error: TransientError, writer: ClaimWriter
) -> str:
    attempts = delivery.attempts + 1
    if attempts >= settings.NEWSLETTER_MAX_ATTEMPTS:
        writer.record(
            delivery,
            status=Delivery.Status.FAILED,
            attempts=attempts,
            smtp_code=error.code,
            error=f"Gave up after {attempts} attempts: {error.reason}"[:500],
            claim=None,
        )
        return Delivery.Status.FAILED
    delay = settings.NEWSLETTER_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    writer.record(
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
