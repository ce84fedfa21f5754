"""DKIM signatures on every message the site sends over its own SMTP server.

With DJANGO_DKIM_PRIVATE_KEY_FILE (or DJANGO_DKIM_PRIVATE_KEY) and
DJANGO_DKIM_SELECTOR set, settings pick EmailBackend below instead of Django's
SMTP backend, so each message is signed right before it is handed over (rsa-sha256,
relaxed/relaxed, dkimpy). The newsletter's sending loop writes its own bytes for
speed and signs them with the same backend (newsletter/delivery/transport.py).

The signature covers the headers a receiver judges a message by, and the
one-click unsubscribe headers, as RFC 8058 section 4 requires. Each signed header
is listed once more than it occurs ("oversigned"), so nobody on the way can add a
second From, Subject or List-Unsubscribe, nor a Cc or Reply-To, without breaking
the signature.

A key that cannot be used is refused at startup (core/checks.py, and this
backend on first use) rather than sending unsigned mail.
"""

import base64
import smtplib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address

from core.emails import from_domain

SIGNED_HEADERS = (
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
)
# Every header once for each occurrence, then once more: an added copy would not
# be covered and breaks the signature (RFC 6376 section 8.15).
INCLUDE_HEADERS = [h.lower().encode() for h in SIGNED_HEADERS] * 2
# RFC 8301: verifiers refuse keys under 1024 bits; 2048 is what to generate.
MIN_KEY_BITS = 1024
SETTINGS_HINT = (
    "See docs/email.md, 'DKIM': set DJANGO_DKIM_PRIVATE_KEY_FILE (or "
    "DJANGO_DKIM_PRIVATE_KEY) and DJANGO_DKIM_SELECTOR, or neither."
)


def configured() -> bool:
    return bool(settings.DKIM_PRIVATE_KEY_FILE or settings.DKIM_PRIVATE_KEY)


@dataclass(frozen=True)
class Signer:
    selector: str
    domain: str
    # PKCS#1 PEM, the form dkimpy reads.
    key_pem: bytes
    public_key_der: bytes

    def sign(self, payload: bytes) -> bytes:
        """The message with its DKIM-Signature header on top."""
        header = dkim.sign(
            payload,
            self.selector.encode(),
            self.domain.encode(),
            self.key_pem,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=b"rsa-sha256",
            include_headers=INCLUDE_HEADERS,
        )
        return header + payload

    def dns_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    def dns_value(self) -> str:
        return "v=DKIM1; k=rsa; p=" + base64.b64encode(self.public_key_der).decode()


def aligned(*, signing_domain: str, sender_domain: str) -> bool:
    """DMARC's relaxed alignment: the From domain is d= or below it."""
    signing_domain = signing_domain.lower().rstrip(".")
    sender_domain = sender_domain.lower().rstrip(".")
    return sender_domain == signing_domain or sender_domain.endswith(
        f".{signing_domain}"
    )


def load_signer() -> Signer:
    """The signer the settings describe; ImproperlyConfigured saying what is wrong."""
    return _load(
        settings.DKIM_PRIVATE_KEY_FILE,
        settings.DKIM_PRIVATE_KEY,
        settings.DKIM_SELECTOR,
        settings.DKIM_DOMAIN or from_domain(),
        from_domain(),
    )


# Keyed on the settings' values: a changed setting (tests) loads afresh.
@lru_cache(maxsize=4)
def _load(
    key_file: str, key_text: str, selector: str, domain: str, sender_domain: str
) -> Signer:
    if key_file and key_text:
        raise ImproperlyConfigured(
            "DKIM: set DJANGO_DKIM_PRIVATE_KEY_FILE or DJANGO_DKIM_PRIVATE_KEY, "
            "not both."
        )
    if not (key_file or key_text):
        raise ImproperlyConfigured(f"DKIM: no private key. {SETTINGS_HINT}")
    if not selector:
        raise ImproperlyConfigured(
            f"DKIM: a private key is set but DJANGO_DKIM_SELECTOR is not. "
            f"{SETTINGS_HINT}"
        )
    if key_file:
        try:
            data = Path(key_file).read_bytes()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"DKIM: cannot read DJANGO_DKIM_PRIVATE_KEY_FILE {key_file!r}: "
                f"{exc.strerror or exc}."
            ) from exc
    else:
        # Environment files often hold a PEM on one line, with "\n" for newlines.
        data = key_text.replace("\\n", "\n").encode()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "DKIM: the private key is not an unencrypted PEM private key "
            "('-----BEGIN PRIVATE KEY-----' or '-----BEGIN RSA PRIVATE KEY-----')."
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ImproperlyConfigured("DKIM: the private key must be an RSA key.")
    if key.key_size < MIN_KEY_BITS:
        raise ImproperlyConfigured(
            f"DKIM: the key has {key.key_size} bits; receivers refuse fewer than "
            f"{MIN_KEY_BITS} (generate 2048)."
        )
    if not aligned(signing_domain=domain, sender_domain=sender_domain):
        raise ImproperlyConfigured(
            f"DKIM: DJANGO_DKIM_DOMAIN {domain!r} is not the From address's domain "
            f"({sender_domain!r}) nor a parent of it, so DMARC would not count the "
            "signature. Leave it unset to sign with the From domain."
        )
    return Signer(
        selector=selector,
        domain=domain.lower().rstrip("."),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
        public_key_der=key.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        ),
    )


class EmailBackend(SMTPBackend):
    """Django's SMTP backend, signing each message with DKIM before sending."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.signer = load_signer()

    def sign_payload(self, payload: bytes) -> bytes:
        return self.signer.sign(payload)

    def _send(self, email_message) -> bool:
        # Django's own _send, with the bytes signed before they go.
        if not email_message.recipients():
            return False
        encoding = email_message.encoding or settings.DEFAULT_CHARSET
        from_email = sanitize_address(email_message.from_email, encoding)
        recipients = [
            sanitize_address(address, encoding)
            for address in email_message.recipients()
        ]
        payload = self.sign_payload(email_message.message().as_bytes(linesep="\r\n"))
        try:
            self.connection.sendmail(from_email, recipients, payload)
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise
            return False
        return True
