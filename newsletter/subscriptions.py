"""Subscriber state changes made at once in the database: confirm, leave, delete,
and the history kept of each. No emails and no tasks here, so the sending worker
(newsletter/sending.py) uses them too; what enqueues work is in services.py.
"""

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from newsletter.models import Subscriber, SubscriberEvent

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


LEAVING_STATUS = {
    Subscriber.LeftHow.BOUNCE: (Subscriber.Status.BOUNCED, Kind.BOUNCED),
    Subscriber.LeftHow.COMPLAINT: (Subscriber.Status.COMPLAINED, Kind.COMPLAINED),
}


def unsubscribe(
    *, subscriber: Subscriber, how: str, ip: str | None = None, detail: str = ""
) -> None:
    """Stop all email to a subscriber at once. Safe to repeat."""
    status, kind = LEAVING_STATUS.get(
        how, (Subscriber.Status.UNSUBSCRIBED, Kind.UNSUBSCRIBED)
    )
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.status == status:
            return
        if subscriber.has_left and status == Subscriber.Status.UNSUBSCRIBED:
            return  # Already receives nothing; keep the stronger reason.
        subscriber.status = status
        subscriber.left_at = timezone.now()
        subscriber.left_how = how
        subscriber.save()
        record_event(subscriber, kind, ip=ip, detail=detail)


def delete_subscriber(*, subscriber: Subscriber) -> None:
    """Erase a subscriber and their history. Past deliveries stay, anonymous."""
    subscriber.delete()


def prune_unconfirmed(*, older_than: timedelta, dry_run: bool = False) -> int:
    """Delete sign-ups never confirmed and last asked for before `older_than` ago."""
    stale = Subscriber.objects.unconfirmed_before(timezone.now() - older_than)
    count = stale.count()
    if not dry_run:
        stale.delete()
    return count
