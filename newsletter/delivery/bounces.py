"""Reports that come after a message was sent: bounces, spam complaints and
unsubscribes, from an email provider's tracking webhook (django-anymail, connected
in NewsletterConfig.ready()) or from an issue's own unsubscribe link.

- Each report is recorded once as a DeliveryEvent: the provider's event id (or,
  when it gives none, a digest of the report) is unique per provider, so a webhook
  the provider sends again changes nothing. Each of our messages has one
  recipient, so a provider's event id names one recipient's report.
- A report finds its delivery by the id the message was accepted under
  (Delivery.provider_message_id). Without one (an email other than an issue, or a
  provider's SMTP relay that gave the message its own id) it finds the subscriber
  by address, and counts towards no issue.
- A permanent bounce, a complaint or an unsubscribe made at the provider stops all
  email to the subscriber (subscriptions.unsubscribe, which keeps the consent
  history); a temporary bounce, a deferral or a rejection is only recorded.
"""

import hashlib
import json
import logging

from anymail.signals import AnymailTrackingEvent, EventType
from django.db import IntegrityError, transaction
from django.utils import timezone

from newsletter.models import Delivery, DeliveryEvent, Subscriber, counters
from newsletter.subscribers.subscriptions import unsubscribe

logger = logging.getLogger(__name__)

Kind = DeliveryEvent.Kind

KINDS = {
    EventType.BOUNCED: Kind.BOUNCED,
    EventType.DEFERRED: Kind.DEFERRED,
    EventType.REJECTED: Kind.REJECTED,
    EventType.FAILED: Kind.REJECTED,
    EventType.COMPLAINED: Kind.COMPLAINED,
    EventType.UNSUBSCRIBED: Kind.UNSUBSCRIBED,
}
# Reports after which the subscriber receives nothing more, and how they left.
LEAVING = {
    Kind.BOUNCED: Subscriber.LeftHow.BOUNCE,
    Kind.COMPLAINED: Subscriber.LeftHow.COMPLAINT,
    Kind.UNSUBSCRIBED: Subscriber.LeftHow.PROVIDER,
}


def provider_key(esp_name: str) -> str:
    """ "Amazon SES" -> "amazon_ses": the name used in settings and webhook URLs."""
    return esp_name.strip().lower().replace(" ", "_")


def _is_temporary(provider: str, report: object) -> bool:
    """Whether a report anymail calls a bounce is a temporary one. Anymail folds
    some of them into "bounced"; only the provider's own fields tell."""
    get = getattr(report, "get", None)
    if get is None:
        return False
    if provider == "postmark":
        # Postmark deactivates an address (Inactive) after a hard bounce, and says
        # it stopped sending to it in a subscription change.
        suppressed = get("RecordType") == "SubscriptionChange" and get(
            "SuppressSending"
        )
        return not (
            get("Type") == "HardBounce" or get("Inactive") is True or suppressed
        )
    if provider == "amazon_ses":
        bounce = get("bounce") or {}
        return bounce.get("bounceType") != "Permanent"
    if provider == "sendgrid":
        return get("type") == "blocked"
    if provider == "brevo":
        return get("event") == "soft_bounce"
    # Mailgun: anymail already reports temporary failures as deferred.
    return False


def kind_of(*, event: AnymailTrackingEvent, provider: str) -> str | None:
    """What the report is, or None for what is not kept (deliveries, opens,
    clicks: no reading is tracked per person)."""
    kind = KINDS.get(event.event_type)
    if kind == Kind.BOUNCED and _is_temporary(provider, event.esp_event):
        return Kind.SOFT_BOUNCED
    return kind


def _event_id(event: AnymailTrackingEvent) -> str:
    if event.event_id:
        return str(event.event_id)[:255]
    # Brevo and some Postmark reports carry no id: the same report sent again has
    # the same content.
    try:
        content = json.dumps(event.esp_event, sort_keys=True, default=str)
    except TypeError:
        content = repr(event.esp_event)
    text = f"{event.event_type}|{event.message_id}|{event.recipient}|{content}"
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def find_delivery(*, message_id: str | None) -> Delivery | None:
    """The delivery whose message was accepted under this id (with or without
    the angle brackets a Message-ID header has)."""
    bare = (message_id or "").strip().strip("<>")
    if not bare:
        return None
    return (
        Delivery.objects.select_related("subscriber")
        .filter(provider_message_id__in=[bare, f"<{bare}>"])
        .order_by("-pk")
        .first()
    )


def record_tracking_event(
    *, event: AnymailTrackingEvent, provider: str
) -> DeliveryEvent | None:
    """Record a provider's report once, and stop email to the subscriber after a
    permanent bounce, a complaint or an unsubscribe. None when nothing was
    recorded: a kind not kept, or a report already recorded."""
    kind = kind_of(event=event, provider=provider)
    if kind is None:
        return None
    delivery = find_delivery(message_id=event.message_id)
    if delivery is not None:
        subscriber = delivery.subscriber
    elif event.recipient:
        subscriber = Subscriber.objects.by_email(event.recipient).first()
    else:
        subscriber = None
    detail = " ".join(
        str(part) for part in (event.description, event.mta_response) if part
    )
    with transaction.atomic():
        if delivery is not None:
            # Reports on one delivery are counted one at a time: the issue counts
            # a delivery once per kind of report (counters.event_recorded).
            Delivery.objects.select_for_update().filter(pk=delivery.pk).exists()
        try:
            with transaction.atomic():
                record = DeliveryEvent.objects.create(
                    delivery=delivery,
                    subscriber=subscriber,
                    issue_id=delivery.issue_id if delivery else None,
                    kind=kind,
                    provider=provider,
                    event_id=_event_id(event),
                    at=event.timestamp or timezone.now(),
                    detail=detail[:500],
                )
        except IntegrityError:
            logger.info("%s report %s already recorded", provider, event.event_id)
            return None
        if delivery is not None:
            counters.event_recorded(delivery=delivery, kind=kind)
        how = LEAVING.get(kind)
        if how and subscriber is not None:
            unsubscribe(
                subscriber=subscriber,
                how=how,
                detail=f"Reported by {provider}: {detail}"[:500],
            )
    return record


def unsubscribe_from_link(
    *, subscriber: Subscriber, how: str, ip: str | None, issue_id: int | None
) -> None:
    """Unsubscribe through a personal link; when the link came in an issue, count
    it towards that issue. Only the post that made the reader leave counts, so a
    link posted twice (a person, then their mail client) counts once."""
    with transaction.atomic():
        left = unsubscribe(subscriber=subscriber, how=how, ip=ip)
        if not left or issue_id is None:
            return
        delivery = (
            Delivery.objects.select_for_update()
            .filter(issue_id=issue_id, subscriber=subscriber)
            .first()
        )
        if delivery is None:
            return  # Not a recipient of that issue: nothing to count it towards.
        DeliveryEvent.objects.create(
            delivery=delivery,
            subscriber=subscriber,
            issue_id=issue_id,
            kind=Kind.UNSUBSCRIBED,
            provider=DeliveryEvent.SITE,
            detail=Subscriber.LeftHow(how).label,
        )
        counters.event_recorded(delivery=delivery, kind=Kind.UNSUBSCRIBED)
