"""Expiring subscribers' operational history: a retention step
(settings.RETENTION_STEPS, core/retention.py).

A subscriber's history (SubscriberEvent) holds two kinds of record, and the law
treats them differently:

- proof of consent and of its withdrawal: we must be able to demonstrate that
  each subscriber consented (GDPR Art. 7(1)), to what, and that we stopped when
  they withdrew it (Art. 7(3)). These stay as long as the subscriber does;
  erasing the subscriber (their deletion link) erases them with it;
- operational records: an email we sent them at their request, a pause. They
  serve the daily limits on such emails (24 hours) and a look back at recent
  support questions, then nothing: storage limitation (Art. 5(1)(e)) says they
  go, here after NEWSLETTER_EVENTS_KEEP_DAYS.

Every kind is classified below, with the reason; a kind added to the model
without a decision fails tests/newsletter/test_retention.py.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.retention import delete_in_batches
from newsletter.models import SubscriberEvent
from newsletter.subscribers.subscriptions import PAUSE_ENDED, PAUSED_UNTIL

Kind = SubscriberEvent.Kind

# Kept while the subscriber exists: what proves consent, its scope and its end.
CONSENT_RECORDS = {
    Kind.SIGNED_UP: "consent given: when, where (the form) and from which address",
    Kind.CONFIRMED: "the double opt-in: consent confirmed from their mailbox",
    Kind.IMPORTED: "added by an import, with its lawful basis and evidence",
    Kind.PREFERENCES_CHANGED: "a change to what they consented to receive "
    "(topics, frequency, news of changed advice); a pause alone is operational",
    Kind.UNSUBSCRIBED: "consent withdrawn, and how: we stopped",
    Kind.BOUNCED: "why we stopped: the address does not exist",
    Kind.COMPLAINED: "consent withdrawn by a spam complaint: we stopped",
}
# Expire after NEWSLETTER_EVENTS_KEEP_DAYS: an email sent at their request.
OPERATIONAL_RECORDS = {
    Kind.CONFIRMATION_SENT: "an email asking to confirm; the confirmation itself "
    "is the proof (CONFIRMED), and the daily limit looks back 24 hours",
    Kind.DATA_EXPORTED: "their data emailed to them at their request; the daily "
    "limit looks back 24 hours",
    Kind.DELETION_REQUESTED: "a deletion link emailed to them (valid 24 hours); "
    "using it erases the subscriber and all their history",
}


def expirable() -> QuerySet:
    """Operational records older than NEWSLETTER_EVENTS_KEEP_DAYS."""
    cutoff = timezone.now() - timedelta(days=settings.NEWSLETTER_EVENTS_KEEP_DAYS)
    pauses = Q(kind=Kind.PREFERENCES_CHANGED) & (
        Q(detail__startswith=PAUSED_UNTIL) | Q(detail=PAUSE_ENDED)
    )
    return SubscriberEvent.objects.filter(
        Q(kind__in=list(OPERATIONAL_RECORDS)) | pauses, at__lt=cutoff
    )


def expire_subscriber_events(*, dry_run: bool) -> int:
    """Delete the expired operational records, in batches; how many went (or
    would)."""
    return delete_in_batches(expirable(), dry_run=dry_run)
