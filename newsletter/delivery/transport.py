"""Handing one newsletter message over to the mail server or provider, and saying
exactly how it went.

- Over SMTP, MAIL, RCPT and DATA are sent one step at a time, so a refusal or a
  broken connection is known to have happened before or during DATA; outgoing
  mail is DKIM-signed here when the backend signs (core/dkim_signing.py).
- 4xx answers are transient (retried, newsletter/delivery/retries.py); 5xx answers
  are permanent, and BAD_MAILBOX_CODES mean the mailbox does not exist.
- Through an email provider's API (django-anymail, DJANGO_EMAIL_PROVIDER) the same
  holds: a refused recipient is permanent, 429 and 5xx answers are transient, a
  connection that never opened is retried, and one that broke after the request
  may have gone out is uncertain, never resent blindly.
"""

import logging
import smtplib
from collections.abc import Callable

import botocore.exceptions
import requests
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import EmailMessage
from urllib3.exceptions import NewConnectionError

from core import dkim_signing

logger = logging.getLogger(__name__)

# Permanent SMTP answers that mean the mailbox does not exist or cannot receive.
BAD_MAILBOX_CODES = {550, 551, 553}


class DeliveryError(Exception):
    """One message was not sent: the server's code (if any) and why."""

    def __init__(self, code: int | None, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class TransientError(DeliveryError):
    """A 4xx answer or a broken connection: worth trying again later."""


class PermanentError(DeliveryError):
    """A 5xx answer: this message will not be accepted; never retried."""


class ConnectionLost(TransientError):
    """The connection broke. `maybe_delivered` when it broke during DATA."""

    def __init__(self, reason: str, *, maybe_delivered: bool):
        super().__init__(None, reason)
        self.maybe_delivered = maybe_delivered


def _reply_text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _reset(connection: smtplib.SMTP) -> None:
    """Forget a refused message so the connection can carry the next one."""
    try:
        connection.rset()
    except (smtplib.SMTPException, OSError):
        logger.info("RSET failed; the next message will reconnect", exc_info=True)


def _classify(code: int, reply: bytes | str) -> DeliveryError:
    reason = f"{code} {_reply_text(reply)}"[:500]
    if 400 <= code < 500:
        return TransientError(code, reason)
    return PermanentError(code, reason)


class Transport:
    """Sends one message at a time and says exactly how each one went."""

    def __init__(self) -> None:
        self.backend = get_connection(fail_silently=False)
        self.smtp = isinstance(self.backend, SMTPBackend)

    def open(self) -> None:
        try:
            self.backend.open()
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionLost(
                f"Cannot connect: {exc}", maybe_delivered=False
            ) from exc

    def close(self) -> None:
        try:
            self.backend.close()
        except (OSError, smtplib.SMTPException):
            logger.warning("Closing the mail connection failed", exc_info=True)

    def send_message(self, message: EmailMessage) -> str:
        """Email providers' APIs (django-anymail), and the console, file and memory
        backends of development and tests. Returns the id the message was accepted
        under: the provider's, or else our own Message-ID."""
        try:
            sent = self.backend.send_messages([message])
        except AnymailRecipientsRefused as exc:
            raise PermanentError(None, f"Refused by the provider: {exc}"[:500]) from exc
        except AnymailAPIError as exc:
            raise _api_error(exc) from exc
        if sent != 1:
            raise TransientError(None, "The mail backend did not send the message.")
        status = getattr(message, "anymail_status", None)
        if status is not None and status.message_id is not None:
            return str(status.message_id)[:255]
        return str(message.extra_headers.get("Message-ID", ""))[:255]

    def send_payload(
        self,
        *,
        sender: str,
        recipient: str,
        payload: bytes,
        before_data: Callable[[], None] = lambda: None,
    ) -> None:
        """Send one message over the open SMTP connection, step by step.

        MAIL, RCPT and DATA are sent one at a time so that a refusal or a broken
        connection is known to have happened before or during DATA: only a break
        during DATA leaves it unknown whether the message was taken.
        """
        if isinstance(self.backend, dkim_signing.EmailBackend):
            payload = self.backend.sign_payload(payload)
        connection = self.backend.connection
        if connection is None:
            self.open()
            connection = self.backend.connection
        try:
            connection.ehlo_or_helo_if_needed()
            # docmd() rather than mail()/rcpt(): those parse each address with the
            # email package, a measurable cost per recipient; our addresses are
            # validated when they are stored, and smtplib refuses CR/LF in commands.
            code, reply = connection.docmd("mail", f"FROM:<{sender}>")
            if code != 250:
                _reset(connection)
                raise _classify(code, reply)
            code, reply = connection.docmd("rcpt", f"TO:<{recipient}>")
            if code not in (250, 251):
                _reset(connection)
                raise _classify(code, reply)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.backend.connection = None
            raise ConnectionLost(str(exc), maybe_delivered=False) from exc
        try:
            before_data()
        except BaseException:
            # Not sending after all (e.g. the claim is lost): end the SMTP
            # transaction so the connection can carry another message.
            _reset(connection)
            raise
        try:
            # data() raises when DATA itself is refused, but returns the answer to
            # the message: both must be checked.
            code, reply = connection.data(payload)
        except smtplib.SMTPDataError as exc:
            _reset(connection)
            raise _classify(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # The message may have been taken before the connection broke.
            self.backend.connection = None
            raise ConnectionLost(str(exc), maybe_delivered=True) from exc
        if code != 250:
            _reset(connection)
            raise _classify(code, reply)


# An email provider's API answers that mean this account cannot send right now (a
# wrong key, a suspended account): like an SMTP server that cannot be reached.
API_ACCOUNT_CODES = {401, 403}
# Failures that happened before a request could reach the provider.
NOT_CONNECTED = (
    requests.ConnectTimeout,
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectTimeoutError,
)


def _api_status(exc: AnymailAPIError) -> int | None:
    if exc.status_code is not None:
        return exc.status_code
    # Amazon SES (boto3): the HTTP status is in the client error's response.
    response = getattr(exc.__cause__, "response", None)
    if isinstance(response, dict):
        return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


def _never_connected(cause: BaseException | None) -> bool:
    if isinstance(cause, NOT_CONNECTED):
        return True
    # requests raises ConnectionError for a refused or unresolved connection and
    # for one that broke mid-request alike; only the first is known unsent.
    reason = getattr(cause.args[0], "reason", None) if cause and cause.args else None
    return isinstance(cause, requests.ConnectionError) and isinstance(
        reason, NewConnectionError
    )


def _api_error(exc: AnymailAPIError) -> DeliveryError:
    """What an email provider's refusal or failure means for one delivery."""
    code = _api_status(exc)
    reason = " ".join(str(exc).split())[:500] or exc.__class__.__name__
    if code is None:
        if _never_connected(exc.__cause__):
            return ConnectionLost(reason, maybe_delivered=False)
        # The request may have reached the provider before the connection broke.
        return ConnectionLost(reason, maybe_delivered=True)
    if code in API_ACCOUNT_CODES:
        return ConnectionLost(f"{code} {reason}"[:500], maybe_delivered=False)
    if code == 429 or code >= 500:
        return TransientError(code, reason)
    return PermanentError(code, reason)
