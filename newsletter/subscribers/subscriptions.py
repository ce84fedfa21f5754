"""Subscriber state changes made at once in the database: confirm, preferences,
pause, leave, delete, and the history kept of each. No emails and no tasks here,
so the sending worker (newsletter/delivery/) uses them too; what enqueues work is in
services.py.
"""

from collections.abc import Callable, Iterable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from articles.public import Topic
from newsletter.models import DeliveryEvent, Subscriber, SubscriberEvent

Kind = SubscriberEvent.Kind

# What a sign-up agrees to; imports that ask for confirmation record it too.
CONSENT_VERSION = "2026-11-v1"
CONSENT_TEXT = (
    "Yes, email me the Skincare newsletter: beauty resources, tips, and news, about "
    "twice a month. I can unsubscribe at any time with one click."
)


def normalize_email(email: str) -> str:
    """Trim, and lowercase the domain (the local part is the mailbox's business)."""
    local, _, domain = email.strip().rpartition("@")
    return f"{local}@{domain.lower()}" if local else email.strip()


def record_event(
    subscriber: Subscriber, kind: str, *, ip: str | None = None, detail: str = ""
) -> None:
    SubscriberEvent.objects.create(
        subscriber=subscriber, kind=kind, ip=ip, detail=detail[:500]
    )


def confirm(
    *,
    subscriber: Subscriber,
    ip: str | None,
    then: Callable[[Subscriber], None] | None = None,
) -> bool:
    """Confirm a pending subscription. Returns whether it is confirmed now.

    `then(subscriber)` runs inside the transaction, only when this call confirmed
    it (not when it already was), so what it queues exists if and only if the
    confirmation was saved.
    """
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.status == Subscriber.Status.CONFIRMED:
            return True
        if subscriber.status != Subscriber.Status.PENDING:
            # An old link must not re-subscribe someone who has since left.
            return False
        subscriber.status = Subscriber.Status.CONFIRMED
        subscriber.confirmed_at = timezone.now()
        subscriber.confirmed_ip = ip
        subscriber.save()
        record_event(subscriber, Kind.CONFIRMED, ip=ip)
        if then is not None:
            then(subscriber)
    return True


# "Pause for a month" on the preference page.
PAUSE = timedelta(days=30)
# How a pause is written in the history, as a preferences change (retention tells
# these apart from changes to what they consented to: subscribers/retention.py).
PAUSED_UNTIL = "paused until "
PAUSE_ENDED = "pause ended"


def _topic_names(topics: Iterable[Topic]) -> str:
    return ", ".join(sorted(t.name for t in topics)) or "all topics"


def update_preferences(
    *,
    subscriber: Subscriber,
    topics: Iterable[Topic],
    frequency: str,
    ip: str | None,
    advice_changes: bool | None = None,
) -> str:
    """Save the topics and frequency a subscriber chose (and whether they hear of
    changes to the advice, when given), recording what changed in their history.
    Returns what changed ("" when nothing did)."""
    topics = list(topics)
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        before = list(subscriber.topics.all())
        changes = []
        if {t.pk for t in before} != {t.pk for t in topics}:
            changes.append(f"topics: {_topic_names(before)} → {_topic_names(topics)}")
            subscriber.topics.set(topics)
        if subscriber.frequency != frequency:
            changes.append(
                f"frequency: {subscriber.get_frequency_display()} → "
                f"{Subscriber.Frequency(frequency).label}"
            )
            subscriber.frequency = frequency
            subscriber.save(update_fields=["frequency", "updated_at"])
        if advice_changes is not None and subscriber.advice_changes != advice_changes:
            changes.append(
                "told when advice changes: " + ("yes" if advice_changes else "no")
            )
            subscriber.advice_changes = advice_changes
            subscriber.save(update_fields=["advice_changes", "updated_at"])
        detail = "; ".join(changes)
        if detail:
            record_event(subscriber, Kind.PREFERENCES_CHANGED, ip=ip, detail=detail)
    return detail


def pause(*, subscriber: Subscriber, ip: str | None) -> Subscriber:
    """Send nothing to this subscriber for PAUSE from now (again from now if
    paused already)."""
    until = timezone.now() + PAUSE
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        subscriber.paused_until = until
        subscriber.save(update_fields=["paused_until", "updated_at"])
        record_event(
            subscriber,
            Kind.PREFERENCES_CHANGED,
            ip=ip,
            detail=f"{PAUSED_UNTIL}{until:%Y-%m-%d %H:%M} UTC",
        )
    return subscriber


def resume(*, subscriber: Subscriber, ip: str | None) -> Subscriber:
    """End a pause now. Safe to repeat: nothing is recorded when not paused."""
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.paused_until is None:
            return subscriber
        was_paused = subscriber.is_paused
        subscriber.paused_until = None
        subscriber.save(update_fields=["paused_until", "updated_at"])
        if was_paused:
            record_event(
                subscriber, Kind.PREFERENCES_CHANGED, ip=ip, detail=PAUSE_ENDED
            )
    return subscriber


LEAVING_STATUS = {
    Subscriber.LeftHow.BOUNCE: (Subscriber.Status.BOUNCED, Kind.BOUNCED),
    Subscriber.LeftHow.COMPLAINT: (Subscriber.Status.COMPLAINED, Kind.COMPLAINED),
}


def unsubscribe(
    *, subscriber: Subscriber, how: str, ip: str | None = None, detail: str = ""
) -> bool:
    """Stop all email to a subscriber at once. Safe to repeat. Returns whether this
    call changed anything (False when they had already left)."""
    status, kind = LEAVING_STATUS.get(
        how, (Subscriber.Status.UNSUBSCRIBED, Kind.UNSUBSCRIBED)
    )
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.status == status:
            return False
        if subscriber.has_left and status == Subscriber.Status.UNSUBSCRIBED:
            return False  # Already receives nothing; keep the stronger reason.
        subscriber.status = status
        subscriber.left_at = timezone.now()
        subscriber.left_how = how
        subscriber.save()
        record_event(subscriber, kind, ip=ip, detail=detail)
    return True


def delete_subscriber(*, subscriber: Subscriber) -> None:
    """Erase a subscriber and their history. Past deliveries and their reports
    stay, anonymous (a provider's bounce text often names the address)."""
    with transaction.atomic():
        DeliveryEvent.objects.filter(subscriber=subscriber).update(detail="")
        subscriber.delete()


def prune_unconfirmed(*, older_than: timedelta, dry_run: bool = False) -> int:
    """Delete sign-ups never confirmed and last asked for before `older_than` ago."""
    stale = Subscriber.objects.unconfirmed_before(timezone.now() - older_than)
    count = stale.count()
    if not dry_run:
        stale.delete()
    return count
