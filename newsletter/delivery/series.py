"""The welcome series: each step after the welcome email, sent once per
subscription when its day comes, whatever the worker does.

Step 1 is the welcome email itself (newsletter/delivery/welcome.py). Each later
step (WelcomeStep) goes out `delay_days` after the subscriber confirmed, timed
from their own confirmation, so whoever joins mid-way starts at step one. The
rules, each decided here once:

- Approval: what goes out is the step's text a medical reviewer approved last
  (WelcomeStepApproval keeps it), never the draft; an edited step keeps sending
  its earlier approved text until the new one is approved. A step with no
  approved text is not live: it sends nothing, and the series does not wait for
  it (the later steps keep their own days).
- Not retroactive: a step starts the moment it is on with approved text
  (WelcomeStep.sending_since). Subscribers whose day for it came earlier never
  get it; those whose day comes later do.
- Paused (Subscriber.paused_until) on the day a step is due: that step is
  skipped (recorded, counted), not saved up for when the pause ends: a reader
  back from a pause must not get a pile of welcome emails at once. The steps
  due after the pause go out as usual.
- Left (status no longer confirmed): nothing more, ever, for that
  subscription. Confirming again is a new subscription with its own series.
- Imported with recorded consent: not welcomed, so no series either (as for the
  welcome email: they were subscribers elsewhere already).
- Exactly once: each (subscriber, step, confirmation) has one
  WelcomeStepDelivery row, unique in the database, claimed and written as the
  welcome email's row is (the same claim token, fenced writes, the commitment
  point before DATA, the lease). A row left claimed by a dead worker is taken
  over once its lease ran out; one left sending is marked uncertain, never sent
  again.
- Who finds the due steps: the task send_welcome_steps (newsletter/tasks.py),
  queued by every live worker's recovery hook (newsletter/recovery.py) when
  none is waiting, so it runs about every SERIES_CHECK_SECONDS; it is also the
  follow-up of a killed or refused send: every run retakes what is due again.
"""

from collections import Counter
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from newsletter import emails
from newsletter.delivery import welcome
from newsletter.delivery.transport import Transport
from newsletter.models import (
    Subscriber,
    WelcomeStep,
    WelcomeStepApproval,
    WelcomeStepDelivery,
)
from newsletter.models.series import IMPORTED_WITH_CONSENT

Status = WelcomeStepDelivery.Status
Outcome = welcome.Outcome

# How often the due steps are looked for (newsletter/recovery.py queues a run
# this long after the last one).
SERIES_CHECK_SECONDS = 60
# A run sends at most this many; the next run carries on.
BATCH = 500
PAUSED_ERROR = "Paused when this step was due: skipped, not saved up for later."


def live_steps() -> list[WelcomeStep]:
    """The steps that go out now: on, with approved text (sending_since set)."""
    return list(
        WelcomeStep.objects.filter(enabled=True, sending_since__isnull=False).filter(
            Exists(WelcomeStepApproval.objects.filter(step=OuterRef("pk")))
        )
    )


def due_at(subscriber: Subscriber, step: WelcomeStep) -> datetime:
    return subscriber.confirmed_at + timedelta(days=step.delay_days)


def due_now(
    *, now: datetime | None = None, limit: int = BATCH
) -> list[tuple[int, int]]:
    """(subscriber id, step id) of every step due now: never started for this
    subscription, or started and known unsent (queued for a retry, or claimed
    by a worker whose lease ran out), or left sending by a dead worker (to be
    marked uncertain). A fixed number of queries per live step."""
    now = now or timezone.now()
    stale = now - welcome.lease()
    found: list[tuple[int, int]] = []
    for step in live_steps():
        delay = timedelta(days=step.delay_days)
        started = WelcomeStepDelivery.objects.filter(
            step=step, subscriber=OuterRef("pk"), confirmed_at=OuterRef("confirmed_at")
        )
        fresh = (
            Subscriber.objects.filter(
                status=Subscriber.Status.CONFIRMED,
                confirmed_at__lte=now - delay,
                # Not retroactive: their day for it came once it was live.
                confirmed_at__gte=step.sending_since - delay,
            )
            .exclude(IMPORTED_WITH_CONSENT)
            .filter(~Exists(started))
            .order_by("confirmed_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        found += [(subscriber_id, step.pk) for subscriber_id in fresh]
    again = (
        WelcomeStepDelivery.objects.filter(
            Q(status=Status.QUEUED, next_attempt_at__lte=now)
            | Q(status__in=[Status.CLAIMED, Status.SENDING], claimed_at__lt=stale),
            subscriber__status=Subscriber.Status.CONFIRMED,
        )
        .order_by("pk")
        .values_list("subscriber_id", "step_id")[:limit]
    )
    return found + list(again)


def run_due(*, now: datetime | None = None) -> Counter:
    """Send every step due now, one after another over one connection. Returns
    how many ended in each Outcome."""
    outcomes: Counter = Counter()
    transport = Transport()
    try:
        for subscriber_id, step_id in due_now(now=now):
            outcome = send_step(
                subscriber_id=subscriber_id, step_id=step_id, transport=transport
            )
            outcomes[str(outcome)] += 1
    finally:
        transport.close()
    return outcomes


def send_step(
    *, subscriber_id: int, step_id: int, transport: Transport | None = None
) -> str:
    """Send one step of a subscriber's current subscription, unless it was sent,
    is being sent, was skipped or is not due. Returns an Outcome."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None or subscriber.status != Subscriber.Status.CONFIRMED:
        return Outcome.NOT_SUBSCRIBED
    step = WelcomeStep.objects.filter(pk=step_id).first()
    if step is None:
        return Outcome.DISABLED
    rows = WelcomeStepDelivery.objects.filter(
        subscriber=subscriber, step=step, confirmed_at=subscriber.confirmed_at
    )
    approved = step.approvals.first()
    if not rows.exists():
        # Switching a step off stops it; one already taken is finished.
        if not step.enabled or step.sending_since is None:
            return Outcome.DISABLED
        if approved is None:
            return Outcome.NOT_APPROVED
        if Subscriber.objects.filter(IMPORTED_WITH_CONSENT, pk=subscriber.pk).exists():
            # Never welcomed (see IMPORTED_WITH_CONSENT): no series either.
            return Outcome.NOT_SUBSCRIBED
        moment = due_at(subscriber, step)
        if moment > timezone.now() or moment < step.sending_since:
            return Outcome.NOT_DUE
        if subscriber.is_paused:
            return _skip(subscriber, step)
    taken = welcome.take_row(
        subscriber, rows, follow_up=welcome.no_follow_up, step=step
    )
    if taken is None:
        return Outcome.NOT_DUE
    row, token = taken
    if approved is None:
        welcome._write(
            row, token, status=Status.FAILED, error="No approved text to send."
        )
        return Outcome.FAILED
    kind = StepSend(
        token=token,
        subscriber=subscriber,
        message=emails.welcome_step_message(
            step=approved, position=step.position, subscriber=subscriber
        ),
        follow_up=welcome.no_follow_up,
    )
    own = transport is None
    transport = transport or Transport()
    try:
        return welcome.deliver_row(row, kind, transport=transport)
    finally:
        if own:
            transport.close()


def _skip(subscriber: Subscriber, step: WelcomeStep) -> str:
    """Record the step skipped for this subscription (once: the unique row)."""
    try:
        with transaction.atomic():
            WelcomeStepDelivery.objects.create(
                subscriber=subscriber,
                step=step,
                confirmed_at=subscriber.confirmed_at,
                status=Status.SKIPPED,
                claim=None,
                error=PAUSED_ERROR,
            )
    except IntegrityError:
        return Outcome.NOT_DUE
    return Outcome.SKIPPED


class StepSend(welcome.WelcomeSend):
    """One step of one subscription's series as a kind of send: the welcome
    email's, on its WelcomeStepDelivery row; a subscriber who paused since the
    run took the row skips it."""

    def is_due(self, row: WelcomeStepDelivery) -> bool:
        self.subscriber.refresh_from_db(fields=["status", "paused_until"])
        return (
            self.subscriber.status == Subscriber.Status.CONFIRMED
            and not self.subscriber.is_paused
        )

    def skipped(self, row: WelcomeStepDelivery, *, error: str) -> None:
        if self.subscriber.is_paused:
            error = PAUSED_ERROR
        super().skipped(row, error=error)
