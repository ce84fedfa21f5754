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

The header is dkimpy's, tag for tag and fold for fold (dkim.sign() with the same
arguments gives the same bytes, tests/newsletter/test_dkim_header.py): dkimpy
parses and canonicalises the message, and the RSA signature over its header hash
is made by OpenSSL (cryptography) with the key loaded once. dkimpy's own RSA is
pure Python, about 25 times slower (6.6 ms a message against 0.26 ms). The body
is canonicalised as dkimpy does, skipping its regular expressions where they
would change nothing (split_message, relaxed_body).

A key that cannot be used is refused at startup (core/checks.py, and this
backend on first use) rather than sending unsigned mail.
"""

import base64
import hashlib
import re
import smtplib
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from dkim.canonicalization import (
    CanonicalizationPolicy,
    correct_empty_body,
    strip_trailing_lines,
)

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
CANONICALIZATION = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
HEADER_NAME = b"DKIM-Signature"
SIGNED_NAMES = frozenset(INCLUDE_HEADERS)
# Runs of whitespace relaxed canonicalisation changes: a lone space stays.
WHITESPACE_RUN = re.compile(rb"\t[\t ]*| [\t ]+")
TRAILING_WHITESPACE = re.compile(rb"[\t ]+\r\n")
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
    # Loaded once per setting (_load is cached), never per message.
    private_key: rsa.RSAPrivateKey = field(compare=False, repr=False)
    public_key_der: bytes

    def sign(self, payload: bytes) -> bytes:
        """The message with its DKIM-Signature header on top."""
        return self.header(payload) + payload

    def header(self, payload: bytes) -> bytes:
        """The DKIM-Signature header line (CRLF-terminated) that
        dkim.sign(payload, selector, domain, key, canonicalize=(b"relaxed",
        b"relaxed"), include_headers=INCLUDE_HEADERS) makes, signed by OpenSSL.
        Follows dkim.DKIM.sign and DomainSigner.gen_header step by step."""
        headers, body = split_message(payload)
        body_hash = hashlib.sha256(relaxed_body(body))
        domain = self.domain.encode()
        fields = [
            (b"v", b"1"),
            (b"a", b"rsa-sha256"),
            (b"c", CANONICALIZATION.to_c_value()),
            (b"d", domain),
            (b"i", b"@" + domain),
            (b"q", b"dns/txt"),
            (b"s", self.selector.encode()),
            (b"t", str(int(time.time())).encode("ascii")),
            (b"h", b" : ".join(INCLUDE_HEADERS)),
            (b"bh", base64.b64encode(body_hash.digest())),
            # As dkimpy: a placeholder long enough that b= folds onto lines of
            # its own, so adding the signature refolds nothing before it.
            (b"b", b"0" * 60),
        ]
        unsigned = dkim.fold(
            b"; ".join(b"=".join(field) for field in fields),
            namelen=len(HEADER_NAME),
            linesep=b"\r\n",
        )
        unsigned = dkim.RE_BTAG.sub(b"\\1", unsigned)
        hasher = hashlib.sha256()
        dkim.hash_headers(
            hasher,
            CANONICALIZATION,
            # Only the headers it signs: hash_headers picks those anyway.
            CANONICALIZATION.canonicalize_headers(
                [h for h in headers if h[0].lower() in SIGNED_NAMES]
            ),
            INCLUDE_HEADERS,
            (HEADER_NAME, b" " + unsigned),
            dict(fields),
        )
        signature = self.private_key.sign(
            hasher.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256())
        )
        fields[-1] = (b"b", base64.b64encode(signature))
        value = b"; ".join(b"=".join(field) for field in fields) + b"\r\n"
        folded = dkim.fold(value, namelen=len(HEADER_NAME), linesep=b"\r\n")
        return HEADER_NAME + b": " + folded

    def dns_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    def dns_value(self) -> str:
        return "v=DKIM1; k=rsa; p=" + base64.b64encode(self.public_key_der).decode()


def split_message(payload: bytes) -> tuple[list[list[bytes]], bytes]:
    """dkim.rfc822_parse(payload), without splitting the body into lines when it
    is CRLF throughout (as the messages the site makes are)."""
    head, blank, body = payload.partition(b"\r\n\r\n")
    if (
        not blank
        or body.count(b"\n") != body.count(b"\r\n")
        or b"\n" in head.replace(b"\r\n", b"")
    ):
        return dkim.rfc822_parse(payload)
    headers, _ = dkim.rfc822_parse(head + b"\r\n\r\n")
    return headers, body


def relaxed_body(body: bytes) -> bytes:
    """Relaxed body canonicalisation (RFC 6376 section 3.4.4), the bytes
    dkimpy's Relaxed.canonicalize_body gives, skipping the regular expressions
    where there is nothing for them to change."""
    if b" \r\n" in body or b"\t\r\n" in body:
        body = TRAILING_WHITESPACE.sub(b"\r\n", body)
    if b"  " in body or b"\t" in body:
        body = WHITESPACE_RUN.sub(b" ", body)
    return correct_empty_body(strip_trailing_lines(body))


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
        private_key=key,
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
