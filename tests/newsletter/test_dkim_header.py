"""The DKIM-Signature header the site makes is dkimpy's, byte for byte, with the
RSA signature made by OpenSSL, and it verifies."""

import base64
from unittest import mock

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core import dkim_signing

SELECTOR = "mail2026"
DOMAIN = "example.com"
NOW = 1_780_000_000
MESSAGE = (
    b"From: Skincare <news@example.com>\r\n"
    b"To: reader@example.org\r\n"
    b"Subject: Winter skin,\r\n"
    b"  gently\r\n"
    b"Date: Tue, 08 Dec 2026 02:00:00 -0000\r\n"
    b"Message-ID: <1@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"List-Unsubscribe: <https://skincare.example/u/abc>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"X-Not-Signed: anything\r\n"
    b"\r\n"
    b"Moisturise  twice a day. \r\n"
    b"\r\n"
    b"\r\n"
)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signer(key) -> dkim_signing.Signer:
    return dkim_signing.Signer(
        selector=SELECTOR,
        domain=DOMAIN,
        private_key=key,
        public_key_der=key.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        ),
    )


def dkimpy_header(key, message: bytes) -> bytes:
    """What dkimpy makes on its own for the same settings, from the same PEM."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return dkim.sign(
        message,
        SELECTOR.encode(),
        DOMAIN.encode(),
        pem,
        canonicalize=(b"relaxed", b"relaxed"),
        signature_algorithm=b"rsa-sha256",
        include_headers=dkim_signing.INCLUDE_HEADERS,
    )


@pytest.mark.parametrize(
    "message",
    [MESSAGE, MESSAGE.replace(b"Skincare", b"Skincare " + b"x" * 200)],
    ids=["plain", "long-from"],
)
def test_the_header_is_dkimpys_byte_for_byte(signer, key, message):
    # RSASSA-PKCS1-v1_5 is deterministic: the same time gives the same bytes.
    with mock.patch("time.time", return_value=NOW):
        ours = signer.header(message)
        theirs = dkimpy_header(key, message)
    assert ours == theirs
    assert ours.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert ours.endswith(b"\r\n")


def test_a_signed_message_verifies_with_the_public_key(signer):
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(signer.public_key_der)

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        expected = f"{SELECTOR}._domainkey.{DOMAIN}".encode()
        return record if name.rstrip(b".") == expected else None

    signed = signer.sign(MESSAGE)
    assert dkim.verify(signed, dnsfunc=dns)
    assert not dkim.verify(signed.replace(b"twice", b"thrice"), dnsfunc=dns)


def test_the_key_is_loaded_once_not_per_message(settings, tmp_path, key):
    path = tmp_path / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings.DKIM_PRIVATE_KEY_FILE = str(path)
    settings.DKIM_PRIVATE_KEY = ""
    settings.DKIM_SELECTOR = SELECTOR
    settings.DKIM_DOMAIN = ""
    first = dkim_signing.load_signer()
    with mock.patch.object(
        serialization, "load_pem_private_key", side_effect=AssertionError("reloaded")
    ):
        assert dkim_signing.load_signer() is first
        first.sign(MESSAGE)
        first.sign(MESSAGE)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\r\n",
        b"\r\n\r\n\r\n",
        b"one line",
        b"two  spaces\tand\t tabs \r\ntrailing \t\r\n\r\n",
        b" leading\r\n\t\r\nend\r\n\r\n",
        b"bare\nnewlines \n in it\n",
    ],
)
def test_the_body_is_canonicalised_as_dkimpy_does(body):
    message = MESSAGE.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" + body
    headers, expected_body = dkim.rfc822_parse(message)
    ours_headers, ours_body = dkim_signing.split_message(message)
    assert ours_headers == headers
    assert dkim_signing.relaxed_body(ours_body) == (
        dkim_signing.CANONICALIZATION.canonicalize_body(expected_body)
    )
