"""Bounces, complaints and unsubscribes that email providers report later, through
anymail's tracking webhooks, with the providers' own payloads (Postmark and
Mailgun, as in their documentation and anymail's tests)."""

import base64
import copy
import hashlib
import hmac
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from newsletter.models import (
    Delivery,
    DeliveryEvent,
    Issue,
    Subscriber,
    SubscriberEvent,
)
from newsletter.subscribers import subscriptions
from tests.factories import make_issue, make_listed_subscriber

pytestmark = pytest.mark.django_db

S = Subscriber.Status
K = DeliveryEvent.Kind
SECRET = "anymail:a-long-webhook-secret"
MAILGUN_KEY = "key-mailgun-webhook-signing"
POSTMARK_ID = "2706ee8a-737c-4285-b032-ccd317af53ed"
MAILGUN_ID = "20180812214658.1.0DF563D0B3597700@example.org"


@pytest.fixture(autouse=True)
def webhooks(settings):
    settings.EMAIL_WEBHOOK_PROVIDERS = ["postmark", "mailgun"]
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY,
    }


def sent_to(email: str, message_id: str) -> Delivery:
    """A delivery of a sent issue, accepted by the provider under `message_id`."""
    issue = make_issue(status=Issue.Status.SENT)
    return Delivery.objects.create(
        issue=issue,
        subscriber=make_listed_subscriber(email=email),
        status=Delivery.Status.SENT,
        sent_at=timezone.now(),
        provider_message_id=message_id,
    )


def basic_auth(secret: str = SECRET) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def url(provider: str) -> str:
    return reverse("newsletter:provider_webhook", args=[provider])


def post(client, provider: str, payload: dict, **auth):
    return client.post(
        url(provider),
        data=json.dumps(payload),
        content_type="application/json",
        **(basic_auth() if auth == {} else auth),
    )


def snapshot() -> tuple:
    """Everything a report could change."""
    return (
        list(DeliveryEvent.objects.values_list("pk", flat=True)),
        list(SubscriberEvent.objects.values_list("pk", "kind")),
        list(Subscriber.objects.values_list("pk", "status", "left_how")),
    )


# Postmark: basic auth only -----------------------------------------------------------

POSTMARK_HARD_BOUNCE = {
    "RecordType": "Bounce",
    "ID": 901542550,
    "Type": "HardBounce",
    "TypeCode": 1,
    "ServerID": 23,
    "Name": "Hard bounce",
    "MessageID": POSTMARK_ID,
    "Description": "The server was unable to deliver your message "
    "(ex: unknown user, mailbox not found).",
    "Details": "smtp;550 5.1.1 The email account that you tried to reach does not "
    "exist.",
    "Email": "bounce@example.com",
    "From": "news@skincare-mail.com",
    "BouncedAt": "2026-11-27T16:28:50.3963933-04:00",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Winter skin, gently",
    "Content": "...",
}

POSTMARK_SPAM_COMPLAINT = {
    "RecordType": "SpamComplaint",
    "ID": 901542551,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
    "Tag": "newsletter",
    "MessageID": POSTMARK_ID,
    "ServerID": 1234,
    "Description": "",
    "Details": "Test spam complaint details",
    "Email": "spam@example.com",
    "From": "news@skincare-mail.com",
    "BouncedAt": "2026-11-27T16:28:50.3963933-04:00",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": False,
    "Subject": "Winter skin, gently",
}

POSTMARK_SOFT_BOUNCE = {
    **POSTMARK_HARD_BOUNCE,
    "ID": 901542552,
    "Type": "SoftBounce",
    "TypeCode": 4096,
    "Name": "Soft bounce",
    "Description": "Unable to temporarily deliver this email.",
    "Details": "smtp;452 4.2.2 Mailbox full",
    "Inactive": False,
}

POSTMARK_UNSUBSCRIBE = {
    "RecordType": "SubscriptionChange",
    "MessageID": POSTMARK_ID,
    "ServerID": 23,
    "MessageStream": "broadcast",
    "ChangedAt": "2026-11-27T17:17:32Z",
    "Recipient": "leaver@example.com",
    "Origin": "Recipient",
    "SuppressSending": True,
    "SuppressionReason": "ManualSuppression",
    "Tag": "newsletter",
    "Metadata": {},
}


def test_a_postmark_hard_bounce_stops_all_email_to_the_reader(client):
    delivery = sent_to("bounce@example.com", POSTMARK_ID)

    response = post(client, "postmark", POSTMARK_HARD_BOUNCE)

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    event = DeliveryEvent.objects.get()
    assert (event.kind, event.provider, event.event_id) == (
        K.BOUNCED,
        "postmark",
        "901542550",
    )
    assert (event.delivery, event.issue_id) == (delivery, delivery.issue_id)
    assert event.subscriber == delivery.subscriber
    assert "550 5.1.1" in event.detail
    reader = Subscriber.objects.get(pk=delivery.subscriber_id)
    assert (reader.status, reader.left_how) == (S.BOUNCED, Subscriber.LeftHow.BOUNCE)
    assert reader.left_at is not None
    history = reader.events.get(kind=SubscriberEvent.Kind.BOUNCED)
    assert history.detail.startswith("Reported by postmark:")


def test_a_postmark_spam_complaint_marks_the_reader_complained(client):
    delivery = sent_to("spam@example.com", POSTMARK_ID)

    assert post(client, "postmark", POSTMARK_SPAM_COMPLAINT).status_code == 200

    assert DeliveryEvent.objects.get().kind == K.COMPLAINED
    reader = Subscriber.objects.get(pk=delivery.subscriber_id)
    assert (reader.status, reader.left_how) == (
        S.COMPLAINED,
        Subscriber.LeftHow.COMPLAINT,
    )
    assert reader.events.filter(kind=SubscriberEvent.Kind.COMPLAINED).count() == 1


def test_a_soft_bounce_is_recorded_but_the_reader_stays(client):
    delivery = sent_to("bounce@example.com", POSTMARK_ID)

    assert post(client, "postmark", POSTMARK_SOFT_BOUNCE).status_code == 200

    assert DeliveryEvent.objects.get().kind == K.SOFT_BOUNCED
    reader = Subscriber.objects.get(pk=delivery.subscriber_id)
    assert reader.status == S.CONFIRMED
    assert not reader.events.filter(kind=SubscriberEvent.Kind.BOUNCED).exists()


def test_an_unsubscribe_at_the_provider_unsubscribes_here(client):
    delivery = sent_to("leaver@example.com", POSTMARK_ID)

    assert post(client, "postmark", POSTMARK_UNSUBSCRIBE).status_code == 200

    event = DeliveryEvent.objects.get()
    assert (event.kind, event.issue_id) == (K.UNSUBSCRIBED, delivery.issue_id)
    # Postmark gives such reports no id: the report's digest stands in.
    assert event.event_id.startswith("sha256:")
    reader = Subscriber.objects.get(pk=delivery.subscriber_id)
    assert (reader.status, reader.left_how) == (
        S.UNSUBSCRIBED,
        Subscriber.LeftHow.PROVIDER,
    )


def test_a_replayed_postmark_report_changes_nothing(client):
    sent_to("bounce@example.com", POSTMARK_ID)
    assert post(client, "postmark", POSTMARK_HARD_BOUNCE).status_code == 200
    before = snapshot()

    assert post(client, "postmark", POSTMARK_HARD_BOUNCE).status_code == 200

    assert snapshot() == before
    assert DeliveryEvent.objects.count() == 1


def test_a_replayed_report_without_an_id_is_recorded_once(client):
    sent_to("leaver@example.com", POSTMARK_ID)
    post(client, "postmark", POSTMARK_UNSUBSCRIBE)
    post(client, "postmark", POSTMARK_UNSUBSCRIBE)

    assert DeliveryEvent.objects.count() == 1


@pytest.mark.parametrize(
    "auth",
    [
        {},
        basic_auth("anymail:the-wrong-password"),
        basic_auth("someone:a-long-webhook-secret"),
        {"HTTP_AUTHORIZATION": "Bearer a-long-webhook-secret"},
    ],
)
def test_a_postmark_report_without_the_right_basic_auth_changes_nothing(client, auth):
    sent_to("bounce@example.com", POSTMARK_ID)
    before = snapshot()

    response = client.post(
        url("postmark"),
        data=json.dumps(POSTMARK_HARD_BOUNCE),
        content_type="application/json",
        **auth,
    )

    assert response.status_code == 400
    assert snapshot() == before


# Mailgun: basic auth and its signature ------------------------------------------------


def mailgun_signed(event_data: dict, *, key: str = MAILGUN_KEY, token: str) -> dict:
    """A Mailgun webhook body, signed as Mailgun signs it (HMAC-SHA256 of the
    timestamp and token with the webhook signing key)."""
    timestamp = str(int(event_data["timestamp"]))
    signature = hmac.new(
        key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }


MAILGUN_PERMANENT_FAILURE = {
    "event": "failed",
    "id": "G9Bn5sl1TC6nu79C8C0bwg",
    "severity": "permanent",
    "reason": "bounce",
    "recipient": "invalid@example.com",
    "timestamp": 1795789622.389832,
    "log-level": "error",
    "message": {
        "headers": {
            "to": "invalid@example.com",
            "message-id": MAILGUN_ID,
            "from": "Skincare <news@skincare-mail.com>",
            "subject": "Winter skin, gently",
        },
        "attachments": [],
        "size": 111,
    },
    "delivery-status": {
        "tls": True,
        "mx-host": "aspmx.l.example.org",
        "attempt-no": 1,
        "description": "",
        "session-seconds": 2.952177047729492,
        "utf8": True,
        "code": 550,
        "message": "5.1.1 The email account that you tried to reach does not exist.",
        "certificate-verified": True,
    },
    "flags": {"is-routed": False, "is-authenticated": True, "is-test-mode": False},
    "envelope": {
        "sender": "news@skincare-mail.com",
        "transport": "smtp",
        "targets": "invalid@example.com",
    },
    "user-variables": {},
    "tags": [],
}

MAILGUN_TEMPORARY_FAILURE = {
    **MAILGUN_PERMANENT_FAILURE,
    "id": "Fs7-5t81S2ms-AtdN2L2tQ",
    "severity": "temporary",
    "reason": "generic",
    "log-level": "warn",
    "delivery-status": {
        "attempt-no": 3,
        "description": "No MX for example.com",
        "session-seconds": 0.0,
        "retry-seconds": 1800,
        "code": 498,
        "message": "No MX for example.com",
    },
}

MAILGUN_COMPLAINED = {
    "event": "complained",
    "id": "ncV2XwymRUKbPek_MIM-Gw",
    "timestamp": 1795789660.049634,
    "log-level": "warn",
    "recipient": "complainer@example.com",
    "message": {
        "headers": {
            "to": "complainer@example.com",
            "message-id": MAILGUN_ID,
            "from": "Skincare <news@skincare-mail.com>",
            "subject": "Winter skin, gently",
        },
    },
}


def test_a_mailgun_permanent_failure_marks_the_reader_bounced(client):
    # Mailgun's API gives the id in angle brackets, its webhooks without.
    delivery = sent_to("invalid@example.com", f"<{MAILGUN_ID}>")
    payload = mailgun_signed(MAILGUN_PERMANENT_FAILURE, token="a" * 50)

    response = post(client, "mailgun", payload)

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    event = DeliveryEvent.objects.get()
    assert (event.kind, event.delivery, event.event_id) == (
        K.BOUNCED,
        delivery,
        "a" * 50,
    )
    reader = Subscriber.objects.get(pk=delivery.subscriber_id)
    assert (reader.status, reader.left_how) == (S.BOUNCED, Subscriber.LeftHow.BOUNCE)


def test_a_mailgun_temporary_failure_is_only_recorded(client):
    delivery = sent_to("invalid@example.com", f"<{MAILGUN_ID}>")

    post(client, "mailgun", mailgun_signed(MAILGUN_TEMPORARY_FAILURE, token="b" * 50))

    assert DeliveryEvent.objects.get().kind == K.DEFERRED
    assert Subscriber.objects.get(pk=delivery.subscriber_id).status == S.CONFIRMED


def test_a_mailgun_complaint_marks_the_reader_complained_once(client):
    delivery = sent_to("complainer@example.com", f"<{MAILGUN_ID}>")
    payload = mailgun_signed(MAILGUN_COMPLAINED, token="c" * 50)

    assert post(client, "mailgun", payload).status_code == 200
    before = snapshot()
    assert post(client, "mailgun", copy.deepcopy(payload)).status_code == 200

    assert snapshot() == before
    assert DeliveryEvent.objects.get().kind == K.COMPLAINED
    reader = Subscriber.objects.get(pk=delivery.subscriber_id)
    assert reader.status == S.COMPLAINED
    assert reader.events.filter(kind=SubscriberEvent.Kind.COMPLAINED).count() == 1


def test_a_forged_mailgun_signature_changes_nothing(client):
    sent_to("complainer@example.com", f"<{MAILGUN_ID}>")
    before = snapshot()
    forged = mailgun_signed(MAILGUN_COMPLAINED, key="a-guessed-key", token="d" * 50)

    assert post(client, "mailgun", forged).status_code == 400

    tampered = mailgun_signed(MAILGUN_COMPLAINED, token="e" * 50)
    tampered["signature"]["timestamp"] = "1795789999"
    assert post(client, "mailgun", tampered).status_code == 400
    unsigned = {"event-data": MAILGUN_COMPLAINED}
    assert post(client, "mailgun", unsigned).status_code == 400
    assert snapshot() == before


def test_a_signed_mailgun_report_without_basic_auth_changes_nothing(client):
    sent_to("complainer@example.com", f"<{MAILGUN_ID}>")
    before = snapshot()
    payload = mailgun_signed(MAILGUN_COMPLAINED, token="f" * 50)

    response = client.post(
        url("mailgun"), data=json.dumps(payload), content_type="application/json"
    )

    assert response.status_code == 400
    assert snapshot() == before


# Which report, which reader -----------------------------------------------------------


def test_without_a_matching_message_id_the_reader_is_found_by_address(client):
    reader = make_listed_subscriber(email="Bounce@Example.com")

    post(client, "postmark", POSTMARK_HARD_BOUNCE)

    event = DeliveryEvent.objects.get()
    assert (event.subscriber, event.delivery, event.issue) == (reader, None, None)
    reader.refresh_from_db()
    assert reader.status == S.BOUNCED


def test_a_report_about_an_unknown_address_is_kept_and_changes_no_one(client):
    reader = make_listed_subscriber(email="someone-else@example.com")

    assert post(client, "postmark", POSTMARK_HARD_BOUNCE).status_code == 200

    event = DeliveryEvent.objects.get()
    assert (event.subscriber, event.delivery) == (None, None)
    reader.refresh_from_db()
    assert reader.status == S.CONFIRMED


def test_deliveries_opens_and_clicks_are_not_kept(client):
    sent_to("recipient@example.com", POSTMARK_ID)
    delivered = {
        "RecordType": "Delivery",
        "MessageID": POSTMARK_ID,
        "Recipient": "recipient@example.com",
        "DeliveredAt": "2026-11-27T13:28:10.2735393-04:00",
        "Details": "Test delivery webhook details",
    }
    opened = {
        "RecordType": "Open",
        "FirstOpen": True,
        "MessageID": POSTMARK_ID,
        "ReceivedAt": "2026-11-27T16:21:41.2493688-04:00",
        "Recipient": "recipient@example.com",
    }

    assert post(client, "postmark", delivered).status_code == 200
    assert post(client, "postmark", opened).status_code == 200

    assert not DeliveryEvent.objects.exists()


def test_a_reader_who_left_and_came_back_is_not_changed_by_an_old_report(client):
    delivery = sent_to("bounce@example.com", POSTMARK_ID)
    post(client, "postmark", POSTMARK_HARD_BOUNCE)
    reader = Subscriber.objects.get(pk=delivery.subscriber_id)
    # They sign up again and confirm; the provider replays the old report.
    Subscriber.objects.filter(pk=reader.pk).update(status=S.CONFIRMED)

    post(client, "postmark", POSTMARK_HARD_BOUNCE)

    reader.refresh_from_db()
    assert reader.status == S.CONFIRMED


def test_a_provider_not_configured_has_no_webhook(client, settings):
    settings.EMAIL_WEBHOOK_PROVIDERS = ["mailgun"]
    sent_to("bounce@example.com", POSTMARK_ID)
    before = snapshot()

    assert post(client, "postmark", POSTMARK_HARD_BOUNCE).status_code == 404
    assert post(client, "sendgrid", [{"event": "bounce"}]).status_code == 404
    assert snapshot() == before


def test_a_get_changes_nothing(client):
    sent_to("bounce@example.com", POSTMARK_ID)
    before = snapshot()

    response = client.get(url("postmark"), basic_auth())

    assert response.status_code == 405
    assert snapshot() == before


def test_deleting_a_reader_keeps_their_reports_anonymous(client):
    delivery = sent_to("bounce@example.com", POSTMARK_ID)
    post(client, "postmark", POSTMARK_HARD_BOUNCE)
    reader = Subscriber.objects.get(pk=delivery.subscriber_id)

    subscriptions.delete_subscriber(subscriber=reader)

    event = DeliveryEvent.objects.get()
    assert (event.subscriber, event.detail, event.kind) == (None, "", K.BOUNCED)
    assert event.delivery == delivery


def test_a_large_bounce_report_is_not_refused_for_its_size(client, settings):
    delivery = sent_to("bounce@example.com", POSTMARK_ID)
    # Postmark can include the bounced message itself.
    large = {**POSTMARK_HARD_BOUNCE, "Content": "x" * 200_000}
    assert len(json.dumps(large)) > settings.PUBLIC_REQUEST_MAX_BYTES

    assert post(client, "postmark", large).status_code == 200

    assert DeliveryEvent.objects.get().delivery == delivery
    too_large = {**large, "Content": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    assert post(client, "postmark", too_large).status_code == 413
