"""The welcome email: sent once per subscription, whatever the worker does.

A subscription is a subscriber and the moment they confirmed (someone who left and
confirmed again asked anew, and is welcomed again). What it says is the text a
medical reviewer approved last (WelcomeApproval keeps it), never the draft staff
edit; with no approved text no welcome goes out, and no row is made for it. How
it stays exact:

- Its WelcomeDelivery row, unique per (subscriber, confirmed_at) in the database,
  is the claim: the run that creates it sends; a run that finds it sends nothing,
  unless the row is known unsent (below).
- Each take of the row writes a new claim token, and every later write of that
  run is fenced by it: it changes the row only while the row still holds that
  token. A worker that stalled and lost the row to another sends nothing more.
- Right before DATA the row goes from "claimed" to "sending", in one autocommitted
  UPDATE, fenced. A row still "claimed" once the lease
  (NEWSLETTER_CLAIM_LEASE_SECONDS) has run out belongs to a worker that died
  before DATA: the message never left, so the next run takes it over and sends.
  A row still "sending" then belongs to one that died during or just after DATA:
  the message may have arrived, so it is marked uncertain and never sent again.
- With a task backend that can defer, the run that takes the row queues a
  follow-up run, in the same transaction, due once the lease has run out: a
  worker killed mid-send is followed up without anyone doing anything. The
  confirmation queues one too, for a worker killed before it took the row.
- The message itself takes the engine every send shares
  (newsletter/delivery/engine.py), as one more kind of send (WelcomeSend): 4xx
  answers go back in the queue with the one back-off (a follow-up is queued for
  then); 5xx answers fail it, and a non-existent mailbox marks the subscriber
  bounced, as for issues.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail.message import EmailMessage
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from newsletter import emails, selectors
from newsletter.delivery import engine, retries
from newsletter.delivery.pacing import Pacer
from newsletter.delivery.transport import (
    Transport,
)
from newsletter.models import Subscriber, WelcomeDelivery

logger = logging.getLogger(__name__)

Status = WelcomeDelivery.Status
# Rows a run may still write to, while it holds their claim token.
OPEN = [Status.CLAIMED, Status.SENDING, Status.UNCERTAIN]
UNCERTAIN_ERROR = (
    "The worker stopped while sending this message; it may or may not have gone "
    "out, so it was not sent again."
)


class Outcome(models.TextChoices):
    SENT = "sent", "Sent"
    RETRY = "retry", "Refused for now: queued to try again"
    FAILED = "failed", "Failed"
    UNCERTAIN = "uncertain", "Uncertain: the connection broke during sending"
    SKIPPED = "skipped", "No longer subscribed"
    NOT_DUE = "not_due", "Sent, being sent, or waiting: nothing to do now"
    DISABLED = "disabled", "The welcome email is turned off"
    NOT_APPROVED = "not_approved", "No medical reviewer has approved its text yet"
    NOT_SUBSCRIBED = "not_subscribed", "Not a confirmed subscriber"


def lease() -> timedelta:
    return timedelta(seconds=settings.NEWSLETTER_CLAIM_LEASE_SECONDS)


def check_after(moment: datetime) -> datetime:
    """When a claim taken at `moment` can be taken over, if its worker died."""
    return moment + lease() + timedelta(seconds=1)


def no_follow_up(at: datetime) -> None:
    """Without deferred tasks, a stalled welcome waits for the next run (the
    welcome series' steps always do: newsletter/delivery/series.py)."""


def send_welcome(
    *,
    subscriber_id: int,
    follow_up: Callable[[datetime], None] = no_follow_up,
) -> str:
    """Send the welcome email of a subscriber's current subscription, unless it
    was sent or is being sent. `follow_up(at)` queues another run at `at`; it is
    called inside the transaction that takes the row. Returns an Outcome."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None or subscriber.status != Subscriber.Status.CONFIRMED:
        return Outcome.NOT_SUBSCRIBED
    rows = WelcomeDelivery.objects.filter(
        subscriber=subscriber, confirmed_at=subscriber.confirmed_at
    )
    welcome = selectors.welcome_email()
    # What subscribers get is the text a medical reviewer approved last, never
    # the draft staff are editing.
    approved = selectors.approved_welcome()
    if not rows.exists():
        # Turning it off stops new welcomes; one already taken is finished.
        if welcome is None or not welcome.enabled:
            return Outcome.DISABLED
        if approved is None:
            return Outcome.NOT_APPROVED
    taken = take_row(subscriber, rows, follow_up=follow_up)
    if taken is None:
        return Outcome.NOT_DUE
    row, token = taken
    if approved is None:
        # Approvals deleted by hand since this row was taken: nothing to send.
        _write(row, token, status=Status.FAILED, error="No approved text to send.")
        return Outcome.FAILED
    transport = Transport()
    try:
        kind = WelcomeSend(
            token=token,
            subscriber=subscriber,
            message=emails.welcome_message(welcome=approved, subscriber=subscriber),
            follow_up=follow_up,
        )
        return deliver_row(row, kind, transport=transport)
    finally:
        transport.close()


def take_row(
    subscriber: Subscriber,
    rows,
    *,
    follow_up: Callable[[datetime], None],
    **fields,
) -> tuple[WelcomeDelivery, uuid.UUID] | None:
    """Claim this subscription's row of `rows` (WelcomeDelivery, or a step's
    WelcomeStepDelivery with its `fields`) under a new token: create it, or take
    it over when it is known unsent. None when it is not this run's to send."""
    token = uuid.uuid4()
    now = timezone.now()
    stale = now - lease()
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = rows.model.objects.create(
                    subscriber=subscriber,
                    confirmed_at=subscriber.confirmed_at,
                    claim=token,
                    claimed_at=now,
                    **fields,
                )
        except IntegrityError:
            # Died during or after DATA: it may have arrived; never again.
            rows.filter(status=Status.SENDING, claimed_at__lt=stale).update(
                status=Status.UNCERTAIN, error=UNCERTAIN_ERROR, updated_at=now
            )
            due = Q(status=Status.QUEUED, next_attempt_at__lte=now) | Q(
                status=Status.CLAIMED, claimed_at__lt=stale
            )
            if not rows.filter(due).update(
                status=Status.CLAIMED, claim=token, claimed_at=now, updated_at=now
            ):
                return None
            row = rows.get()
        follow_up(check_after(now))
    return row, token


class ClaimLost(Exception):
    """Another run took this row over: this one sends nothing."""


def _write(row: WelcomeDelivery, token: uuid.UUID, **fields) -> bool:
    """One fenced, autocommitted write: only while the row holds our token."""
    fields["updated_at"] = timezone.now()
    # type(row): a WelcomeDelivery, or a series step's WelcomeStepDelivery.
    return bool(
        type(row)
        .objects.filter(pk=row.pk, claim=token, status__in=OPEN)
        .update(**fields)
    )


class WelcomeSend:
    """One subscription's welcome email as one kind of send
    (newsletter/delivery/engine.py): its one row, each write fenced by the
    run's claim token."""

    def __init__(
        self,
        *,
        token: uuid.UUID,
        subscriber: Subscriber,
        message: EmailMessage,
        follow_up: Callable[[datetime], None],
    ) -> None:
        self.token = token
        self.subscriber = subscriber
        self.message = message
        self.follow_up = follow_up

    def recipient(self, row: WelcomeDelivery) -> Subscriber:
        return self.subscriber

    def attempts(self, row: WelcomeDelivery) -> int:
        return row.attempts

    def is_due(self, row: WelcomeDelivery) -> bool:
        # Checked again at the moment of sending, as for issues.
        self.subscriber.refresh_from_db(fields=["status"])
        return self.subscriber.status == Subscriber.Status.CONFIRMED

    def smtp_message(self, row: WelcomeDelivery) -> tuple[str, bytes, str]:
        return (
            parseaddr(self.message.from_email)[1],
            self.message.message().as_bytes(linesep="\r\n"),
            "",
        )

    def api_message(self, row: WelcomeDelivery) -> EmailMessage:
        return self.message

    def flush(self) -> None:
        """Each write is made at once: nothing is left to wait for."""

    def guard(self, row: WelcomeDelivery) -> None:
        # The commitment point: from here a dead worker's row is uncertain.
        if (
            not type(row)
            .objects.filter(pk=row.pk, claim=self.token, status=Status.CLAIMED)
            .update(status=Status.SENDING, updated_at=timezone.now())
        ):
            raise ClaimLost(f"welcome {row.pk} was taken over by another run")

    def skipped(self, row: WelcomeDelivery, *, error: str) -> None:
        _write(row, self.token, status=Status.SKIPPED, error=error)

    def sent(
        self, row: WelcomeDelivery, *, smtp_code: int | None, message_id: str
    ) -> None:
        # Recorded even when another run marked it uncertain meanwhile: we know.
        _write(
            row,
            self.token,
            status=Status.SENT,
            attempts=F("attempts") + 1,
            sent_at=timezone.now(),
            smtp_code=smtp_code,
            error="",
        )

    def uncertain(self, row: WelcomeDelivery, *, error: str) -> None:
        _write(
            row,
            self.token,
            status=Status.UNCERTAIN,
            attempts=F("attempts") + 1,
            error=error,
        )

    def failed(
        self, row: WelcomeDelivery, *, attempts: int, code: int | None, error: str
    ) -> None:
        # Counted by the database, as every attempt at this row is.
        _write(
            row,
            self.token,
            status=Status.FAILED,
            attempts=F("attempts") + 1,
            smtp_code=code,
            error=error,
        )

    def retry(self, row: WelcomeDelivery, *, retry: retries.Retry) -> None:
        fields = {
            "attempts": retry.attempts,
            "smtp_code": retry.code,
            "error": retry.error,
        }
        if retry.gave_up:
            _write(row, self.token, status=Status.FAILED, **fields)
            return
        with transaction.atomic():
            if _write(
                row,
                self.token,
                status=Status.QUEUED,
                claim=None,
                next_attempt_at=retry.at,
                **fields,
            ):
                self.follow_up(retry.at)


def deliver_row(
    row: WelcomeDelivery, kind: WelcomeSend, *, transport: Transport
) -> str:
    pacer = Pacer(rate=settings.NEWSLETTER_RATE_PER_SECOND)
    try:
        result, _ = engine.deliver(kind, row, transport=transport, pacer=pacer)
    except ClaimLost as exc:
        logger.warning("Welcome email not sent by this run: %s", exc)
        return Outcome.NOT_DUE
    return Outcome(result.value)
