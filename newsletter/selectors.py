"""Reads about subscribers."""

from newsletter.models import Delivery, Subscriber


def subscriber_data(subscriber: Subscriber) -> dict:
    """Everything we hold about a subscriber, for their data request."""
    return {
        "email": subscriber.email,
        "first_name": subscriber.first_name,
        "status": subscriber.get_status_display(),
        "signed_up_from": subscriber.get_consent_source_display(),
        "consent_text": subscriber.consent_text,
        "consent_version": subscriber.consent_version,
        "consent_at": subscriber.consent_at,
        "consent_ip": subscriber.consent_ip,
        "lawful_basis": subscriber.lawful_basis,
        "confirmed_at": subscriber.confirmed_at,
        "left_at": subscriber.left_at,
        "left_how": subscriber.get_left_how_display() if subscriber.left_how else "",
        "history": [
            {"at": e.at, "event": e.get_kind_display(), "ip": e.ip}
            for e in subscriber.events.all()
        ],
        "issues_sent": list(
            subscriber.deliveries.filter(status=Delivery.Status.SENT)
            .order_by("sent_at")
            .values_list("issue__subject", "sent_at")
        ),
    }
