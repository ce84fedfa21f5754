"""Sending through an email provider's API (django-anymail) or our own SMTP server:
the provider chosen in the environment, and the id each delivery was accepted
under, recorded exactly once."""

import re

import pytest
import requests
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError, AnymailRequestsAPIError
from anymail.message import AnymailRecipientStatus
from django.core import mail
from django.core.exceptions import ImproperlyConfigured

from newsletter import emails
from newsletter.delivery import issues
from newsletter.models import Delivery, Subscriber
from skincare.email_providers import from_environment
from tests.factories import make_listed_subscriber
from tests.newsletter.test_sending import scheduled_issue, sink  # noqa: F401
from tests.skincare.test_settings import run_manage

pytestmark = pytest.mark.django_db

D = Delivery.Status
SECRET = "anymail:a-long-webhook-secret"


# Choosing a provider in the environment ---------------------------------------------


def test_without_a_provider_nothing_changes():
    providers = from_environment({"EMAIL_HOST": "smtp.example.com"})
    assert providers.backend is None
    assert providers.anymail == {}
    assert providers.webhooks == []


@pytest.mark.parametrize(
    "provider,credentials,backend",
    [
        (
            "postmark",
            {"POSTMARK_SERVER_TOKEN": "pm-token"},
            "anymail.backends.postmark.EmailBackend",
        ),
        (
            "mailgun",
            {"MAILGUN_API_KEY": "mg-key", "MAILGUN_WEBHOOK_SIGNING_KEY": "mg-sign"},
            "anymail.backends.mailgun.EmailBackend",
        ),
        ("amazon_ses", {}, "anymail.backends.amazon_ses.EmailBackend"),
        (
            "sendgrid",
            {"SENDGRID_API_KEY": "sg-key"},
            "anymail.backends.sendgrid.EmailBackend",
        ),
        ("brevo", {"BREVO_API_KEY": "bv-key"}, "anymail.backends.brevo.EmailBackend"),
    ],
)
def test_each_provider_maps_its_credentials_to_anymail(provider, credentials, backend):
    env = {
        "DJANGO_EMAIL_PROVIDER": provider.upper(),
        "ANYMAIL_WEBHOOK_SECRET": SECRET,
        **credentials,
    }
    providers = from_environment(env)
    assert providers.backend == backend
    assert providers.webhooks == [provider]
    assert providers.anymail == {"WEBHOOK_SECRET": SECRET, **credentials}


def test_mailgun_options_and_ses_region_are_passed_on():
    mailgun = from_environment(
        {
            "DJANGO_EMAIL_PROVIDER": "mailgun",
            "MAILGUN_API_KEY": "k",
            "MAILGUN_WEBHOOK_SIGNING_KEY": "s",
            "MAILGUN_API_URL": "https://api.eu.mailgun.net/v3",
            "ANYMAIL_WEBHOOK_SECRET": SECRET,
        }
    )
    assert mailgun.anymail["MAILGUN_API_URL"] == "https://api.eu.mailgun.net/v3"
    ses = from_environment(
        {
            "DJANGO_EMAIL_PROVIDER": "amazon_ses",
            "AMAZON_SES_REGION": "eu-west-1",
            "ANYMAIL_WEBHOOK_SECRET": SECRET,
        }
    )
    assert ses.anymail["AMAZON_SES_CLIENT_PARAMS"] == {"region_name": "eu-west-1"}


@pytest.mark.parametrize(
    "env,message",
    [
        (
            {"DJANGO_EMAIL_PROVIDER": "mailchimp"},
            "DJANGO_EMAIL_PROVIDER names an unknown email provider 'mailchimp'",
        ),
        (
            {"DJANGO_EMAIL_PROVIDER": "postmark", "ANYMAIL_WEBHOOK_SECRET": SECRET},
            "POSTMARK_SERVER_TOKEN must be set with DJANGO_EMAIL_PROVIDER=postmark",
        ),
        (
            {"DJANGO_EMAIL_PROVIDER": "postmark", "POSTMARK_SERVER_TOKEN": "t"},
            "ANYMAIL_WEBHOOK_SECRET must be set to receive provider webhooks",
        ),
        (
            {
                "DJANGO_EMAIL_PROVIDER": "postmark",
                "POSTMARK_SERVER_TOKEN": "t",
                "ANYMAIL_WEBHOOK_SECRET": "no-colon",
            },
            "ANYMAIL_WEBHOOK_SECRET must be 'user:password'",
        ),
        (
            {
                "DJANGO_EMAIL_PROVIDER": "mailgun",
                "MAILGUN_API_KEY": "k",
                "ANYMAIL_WEBHOOK_SECRET": SECRET,
            },
            "MAILGUN_WEBHOOK_SIGNING_KEY must be set to receive mailgun webhooks",
        ),
        (
            {
                "DJANGO_EMAIL_PROVIDER": "sendgrid",
                "SENDGRID_API_KEY": "k",
                "EMAIL_HOST": "smtp.example.com",
            },
            "Set either EMAIL_HOST (our own SMTP server) or DJANGO_EMAIL_PROVIDER",
        ),
        (
            {"DJANGO_EMAIL_WEBHOOKS": "postmark,sparkle"},
            "DJANGO_EMAIL_WEBHOOKS names an unknown email provider 'sparkle'",
        ),
    ],
)
def test_unknown_provider_or_missing_credential_is_refused_clearly(env, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        from_environment(env)


def test_webhooks_alone_for_a_providers_smtp_relay():
    providers = from_environment(
        {
            "EMAIL_HOST": "smtp.mailgun.org",
            "DJANGO_EMAIL_WEBHOOKS": "mailgun",
            "MAILGUN_WEBHOOK_SIGNING_KEY": "s",
            "ANYMAIL_WEBHOOK_SECRET": SECRET,
        }
    )
    assert providers.backend is None
    assert providers.webhooks == ["mailgun"]
    assert providers.anymail == {
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": "s",
    }


def test_the_site_refuses_to_start_with_an_unknown_provider():
    result = run_manage(
        "check", DJANGO_DEBUG="1", DJANGO_EMAIL_PROVIDER="carrier-pigeon"
    )
    assert result.returncode != 0
    assert "unknown email provider 'carrier-pigeon'" in result.stderr


# The id each delivery was accepted under ---------------------------------------------


@pytest.fixture
def anymail_backend(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    # A retry waits: each test sees the first attempt's outcome.
    settings.NEWSLETTER_RETRY_BASE_SECONDS = 60
    settings.NEWSLETTER_RATE_PER_SECOND = 0
    mail.outbox = []


def send(issue) -> issues.RunResult:
    assert issues.start_send(issue_id=issue.pk)
    return issues.run(issue_id=issue.pk)


def test_provider_message_id_is_recorded_per_delivery_through_anymail(
    anymail_backend,
):
    readers = [make_listed_subscriber() for _ in range(3)]
    issue = scheduled_issue()

    result = send(issue)

    assert result.outcomes == {D.SENT: 3}
    assert len(mail.outbox) == 3
    by_email = {m.to[0]: m.anymail_status.message_id for m in mail.outbox}
    for reader in readers:
        delivery = Delivery.objects.get(issue=issue, subscriber=reader)
        assert delivery.status == D.SENT
        assert delivery.provider_message_id == str(by_email[reader.email])
    # Running again sends nothing more: the ids stay as recorded.
    assert issues.run(issue_id=issue.pk).outcomes == {}
    assert len(mail.outbox) == 3


def test_our_message_id_is_recorded_over_smtp(sink):  # noqa: F811
    reader = make_listed_subscriber()
    issue = scheduled_issue()

    send(issue)

    [accepted] = sink.handler.accepted
    delivery = Delivery.objects.get(issue=issue)
    assert delivery.status == D.SENT
    assert delivery.provider_message_id == accepted.message_id
    assert delivery.provider_message_id == emails.message_id(
        issue=issue, subscriber=reader
    )


def failing_with(monkeypatch, error: Exception | None = None, *, status: str = ""):
    """The test backend answers every send with `error`, or with a recipient
    status such as "rejected"."""

    def post_to_esp(self, payload, message):
        if error is not None:
            raise error
        refused = AnymailRecipientStatus(message_id=None, status=status)
        return {"recipient_status": {e: refused for e in payload.recipient_emails}}

    monkeypatch.setattr(AnymailTestBackend, "post_to_esp", post_to_esp)


def api_error(
    cause: Exception | None = None, *, status_code: int | None = None
) -> AnymailAPIError:
    """What an HTTP API backend raises: an answer with a status, or no answer."""
    if status_code is None:
        error = AnymailRequestsAPIError("Error posting to the provider")
        error.__cause__ = cause
        return error
    response = requests.Response()
    response.status_code = status_code
    response.reason = "Provider said no"
    response._content = b'{"ErrorCode": 1, "Message": "Provider said no"}'
    return AnymailRequestsAPIError(response=response)


def test_a_recipient_the_provider_refuses_fails_without_retry(
    anymail_backend, monkeypatch
):
    reader = make_listed_subscriber()
    issue = scheduled_issue()
    failing_with(monkeypatch, status="rejected")

    result = send(issue)

    delivery = Delivery.objects.get(issue=issue)
    assert result.outcomes == {D.FAILED: 1}
    assert delivery.status == D.FAILED
    assert delivery.error.startswith("Refused by the provider")
    assert delivery.provider_message_id == ""
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.CONFIRMED


@pytest.mark.parametrize("code", [429, 500, 503])
def test_provider_overload_and_server_errors_are_retried(
    anymail_backend, monkeypatch, code
):
    make_listed_subscriber()
    issue = scheduled_issue()
    failing_with(monkeypatch, api_error(status_code=code))

    send(issue)

    delivery = Delivery.objects.get(issue=issue)
    assert delivery.status == D.QUEUED, delivery.error
    assert (delivery.attempts, delivery.smtp_code) == (1, code)


def test_a_request_the_provider_calls_invalid_fails(anymail_backend, monkeypatch):
    make_listed_subscriber()
    issue = scheduled_issue()
    failing_with(monkeypatch, api_error(status_code=422))

    send(issue)

    delivery = Delivery.objects.get(issue=issue)
    assert (delivery.status, delivery.smtp_code) == (D.FAILED, 422)


def test_a_refused_api_key_stops_the_worker_after_one_try(anymail_backend, monkeypatch):
    for _ in range(3):
        make_listed_subscriber()
    issue = scheduled_issue()
    failing_with(monkeypatch, api_error(status_code=401))

    send(issue)

    counts = issue.deliveries.counts()
    assert counts[D.QUEUED] == 3
    # One request reached the provider; the others wait for the next run.
    assert sorted(issue.deliveries.values_list("attempts", flat=True)) == [0, 0, 1]


def test_a_connection_that_never_opened_is_retried(anymail_backend, monkeypatch):
    make_listed_subscriber()
    issue = scheduled_issue()
    failing_with(monkeypatch, api_error(requests.ConnectTimeout("timed out")))

    send(issue)

    delivery = Delivery.objects.get(issue=issue)
    assert (delivery.status, delivery.attempts) == (D.QUEUED, 1)


def test_a_request_that_may_have_reached_the_provider_is_uncertain(
    anymail_backend, monkeypatch
):
    make_listed_subscriber()
    make_listed_subscriber()
    issue = scheduled_issue()
    failing_with(monkeypatch, api_error(requests.ReadTimeout("no answer")))

    result = send(issue)

    assert result.outcomes == {D.UNCERTAIN: 1}
    counts = issue.deliveries.counts()
    # Never sent again blindly; the other waits in the queue for the next run.
    assert (counts[D.UNCERTAIN], counts[D.QUEUED]) == (1, 1)
