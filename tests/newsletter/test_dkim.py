"""DKIM: every message sent over our own SMTP server is signed, and verifies
against the published key; a bad setting is refused at startup."""

import base64
import email
import email.policy
import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from core import checks, dkim_signing
from newsletter import emails
from newsletter.delivery import issues
from newsletter.models import Issue, Subscriber
from newsletter.subscribers.tokens import Purpose, make_token
from tests.factories import approve_issue, make_subscriber, make_welcome_email
from tests.smtp_sink import SMTPSink

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SELECTOR = "mail2026"
# The tests' sender is news@example.com (tests run with that DEFAULT_FROM_EMAIL).
DNS_NAME = f"{SELECTOR}._domainkey.example.com"
# RFC 8058 section 4, and the headers a receiver judges a message by.
MUST_SIGN = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "list-unsubscribe",
    "list-unsubscribe-post",
}


def pem(key, fmt=serialization.PrivateFormat.PKCS8) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, fmt, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(tmp_path, rsa_key) -> Path:
    path = tmp_path / "dkim.pem"
    path.write_bytes(pem(rsa_key))
    return path


@pytest.fixture
def dkim_settings(settings, key_file):
    settings.DKIM_PRIVATE_KEY_FILE = str(key_file)
    settings.DKIM_PRIVATE_KEY = ""
    settings.DKIM_SELECTOR = SELECTOR
    settings.DKIM_DOMAIN = ""
    return settings


@pytest.fixture
def sink(dkim_settings):
    settings = dkim_settings
    with SMTPSink() as server:
        settings.EMAIL_BACKEND = "core.dkim_signing.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.NEWSLETTER_RATE_PER_SECOND = 0
        settings.SITE_URL = "https://skincare.example"
        yield server


@pytest.fixture
def dns(rsa_key):
    """The TXT record as published, for dkim.verify() to look up."""
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name.rstrip(b".") == DNS_NAME.encode() else None

    return lookup


def signed_headers(raw: bytes) -> list[str]:
    """The h= tag of the message's DKIM-Signature, lowercased."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    signature = re.sub(r"\s+", "", message["DKIM-Signature"])
    tags = dict(tag.split("=", 1) for tag in signature.split(";") if tag)
    assert tags["a"] == "rsa-sha256"
    assert tags["c"] == "relaxed/relaxed"
    assert (tags["d"], tags["s"]) == ("example.com", SELECTOR)
    return tags["h"].lower().split(":")


def assert_signed_and_valid(raw: bytes, dns) -> None:
    assert raw.startswith(b"DKIM-Signature:")
    assert dkim.verify(raw, dnsfunc=dns)
    # Present in the message (h= may also name absent ones: signed as absent).
    present = {name.lower() for name in email.message_from_bytes(raw)}
    assert present >= MUST_SIGN
    assert set(signed_headers(raw)) >= MUST_SIGN


def send_issue_to(subscriber: Subscriber) -> None:
    issue = Issue.objects.create(
        subject="Winter skin, gently",
        slug="winter-skin",
        body="<p>Moisturise, gently.</p>",
        status=Issue.Status.SCHEDULED,
        scheduled_at=timezone.now(),
    )
    approve_issue(issue)
    assert issues.start_send(issue_id=issue.pk)
    issues.run(issue_id=issue.pk)


# Signed, and verified against the DNS record ----------------------------------------


def test_an_issue_email_is_signed_and_verifies_with_the_published_key(sink, dns):
    make_subscriber(status=Subscriber.Status.CONFIRMED, email="ada@example.com")

    send_issue_to(Subscriber.objects.get())

    [accepted] = sink.handler.accepted
    assert_signed_and_valid(accepted.raw, dns)
    headers = signed_headers(accepted.raw)
    # Oversigned: a second List-Unsubscribe or From added on the way would fail.
    assert headers.count("list-unsubscribe") == 2
    assert headers.count("from") == 2


def test_a_welcome_email_is_signed_and_verifies_with_the_published_key(
    client, sink, dns
):
    make_welcome_email()
    subscriber = make_subscriber(email="ada@example.com")
    token = make_token(subscriber=subscriber, purpose=Purpose.CONFIRM)

    client.post(reverse("newsletter:confirm", kwargs={"token": token}))

    [accepted] = sink.handler.accepted
    assert accepted.headers["Subject"] == "Welcome to the Skincare newsletter"
    assert_signed_and_valid(accepted.raw, dns)


def test_emails_sent_through_django_are_signed_too(sink, dns):
    emails.confirmation_message(subscriber=make_subscriber()).send()

    [accepted] = sink.handler.accepted
    assert dkim.verify(accepted.raw, dnsfunc=dns)


@pytest.mark.parametrize(
    "change",
    [
        (b"\r\nSubject: ", b"\r\nSubject: Re: "),
        (b"Moisturise, gently.", b"Moisturise, roughly."),
        (b"List-Unsubscribe-Post: ", b"List-Unsubscribe-Post: X"),
    ],
    ids=["subject", "body", "one-click header"],
)
def test_a_tampered_message_fails_verification(sink, dns, change):
    make_subscriber(status=Subscriber.Status.CONFIRMED, email="ada@example.com")
    send_issue_to(Subscriber.objects.get())
    raw = sink.handler.accepted[0].raw
    before, after = change
    assert before in raw

    assert not dkim.verify(raw.replace(before, after, 1), dnsfunc=dns)


def test_an_added_unsubscribe_header_fails_verification(sink, dns):
    make_subscriber(status=Subscriber.Status.CONFIRMED, email="ada@example.com")
    send_issue_to(Subscriber.objects.get())
    raw = sink.handler.accepted[0].raw
    head, _, body = raw.partition(b"\r\n\r\n")

    forged = head + b"\r\nList-Unsubscribe: <https://evil.example/>\r\n\r\n" + body

    assert dkim.verify(raw, dnsfunc=dns)
    assert not dkim.verify(forged, dnsfunc=dns)


def test_a_key_given_as_text_with_escaped_newlines_signs_the_same(
    sink, dns, rsa_key, dkim_settings
):
    dkim_settings.DKIM_PRIVATE_KEY_FILE = ""
    dkim_settings.DKIM_PRIVATE_KEY = (
        pem(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL)
        .decode()
        .replace("\n", "\\n")
    )

    emails.confirmation_message(subscriber=make_subscriber()).send()

    assert dkim.verify(sink.handler.accepted[0].raw, dnsfunc=dns)


# The DNS record ---------------------------------------------------------------------


def test_dns_record_command_prints_the_name_and_the_public_key(dkim_settings, dns):
    out = StringIO()
    call_command("dkim_dns_record", stdout=out)
    output = out.getvalue()

    assert f"Name:  {DNS_NAME}" in output
    value = re.search(r"^Value: (.+)$", output, re.M).group(1)
    assert value.encode() == dns(DNS_NAME.encode())
    assert f'{DNS_NAME}. 3600 IN TXT ( "v=DKIM1; k=rsa; p=' in output


def test_dns_record_command_says_when_no_key_is_configured(settings):
    settings.DKIM_PRIVATE_KEY_FILE = settings.DKIM_PRIVATE_KEY = ""
    with pytest.raises(CommandError, match="No DKIM key is configured"):
        call_command("dkim_dns_record", stdout=StringIO())


# Refused at startup -----------------------------------------------------------------


def check_messages() -> list[str]:
    return [f"{m.id}: {m.msg}" for m in checks.check_dkim()]


def test_no_dkim_settings_no_complaint(settings):
    settings.DKIM_PRIVATE_KEY_FILE = settings.DKIM_PRIVATE_KEY = ""
    settings.DKIM_SELECTOR = settings.DKIM_DOMAIN = ""
    assert check_messages() == []


def test_a_working_key_with_the_signing_backend_passes_the_check(dkim_settings):
    dkim_settings.EMAIL_BACKEND = "core.dkim_signing.EmailBackend"
    assert check_messages() == []


@pytest.mark.parametrize(
    "setting, value, message",
    [
        ("DKIM_SELECTOR", "", "DJANGO_DKIM_SELECTOR is not"),
        ("DKIM_PRIVATE_KEY_FILE", "/nonexistent/dkim.pem", "cannot read"),
        ("DKIM_PRIVATE_KEY", "not a key", "not both"),
        ("DKIM_DOMAIN", "other.example.org", "DMARC would not count"),
    ],
)
def test_a_misconfiguration_is_refused_with_a_clear_message(
    dkim_settings, setting, value, message
):
    dkim_settings.EMAIL_BACKEND = "core.dkim_signing.EmailBackend"
    setattr(dkim_settings, setting, value)

    [problem] = check_messages()

    assert problem.startswith("core.E002: DKIM: ")
    assert message in problem


def test_a_key_that_is_not_rsa_is_refused(dkim_settings, key_file):
    key_file.write_bytes(pem(ed25519.Ed25519PrivateKey.generate()))
    [problem] = check_messages()
    assert "must be an RSA key" in problem


def test_a_selector_without_a_key_is_refused(settings):
    settings.DKIM_PRIVATE_KEY_FILE = settings.DKIM_PRIVATE_KEY = ""
    settings.DKIM_SELECTOR = SELECTOR
    [problem] = check_messages()
    assert "no private key" in problem


def test_a_key_with_mail_going_out_unsigned_is_refused(dkim_settings):
    dkim_settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    [problem] = check_messages()
    assert problem.startswith("core.E003: ")
    assert "would go out unsigned" in problem


def test_the_signing_backend_refuses_to_start_with_a_bad_key(dkim_settings, key_file):
    key_file.write_text("-----BEGIN PRIVATE KEY-----\nnonsense\n")
    with pytest.raises(Exception, match="not an unencrypted PEM private key"):
        dkim_signing.EmailBackend()


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    base.update(DJANGO_SECRET_KEY="x", DJANGO_DEFAULT_FROM_EMAIL="news@example.com")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_signing_backend_is_chosen_when_a_key_and_an_smtp_server_are_set(
    key_file,
):
    env = {
        "EMAIL_HOST": "127.0.0.1",
        "DJANGO_DKIM_PRIVATE_KEY_FILE": str(key_file),
        "DJANGO_DKIM_SELECTOR": SELECTOR,
    }
    shown = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.EMAIL_BACKEND)",
        env={},
    )
    chosen = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.EMAIL_BACKEND)",
        env=env,
    )
    refused = manage("check", env={**env, "DJANGO_DKIM_SELECTOR": ""})

    # The last line: the shell may first say what it imported.
    last = [result.stdout.strip().splitlines()[-1] for result in (shown, chosen)]
    assert last == [
        "django.core.mail.backends.console.EmailBackend",
        "core.dkim_signing.EmailBackend",
    ]
    assert refused.returncode != 0
    assert "DJANGO_DKIM_SELECTOR is not" in refused.stderr
