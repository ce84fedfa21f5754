"""What becomes of a message refused for now (a 4xx answer, a connection that
never opened): queued again with exponential back-off, until
NEWSLETTER_MAX_ATTEMPTS attempts have been made."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from newsletter.delivery.claims import ClaimWriter
from newsletter.delivery.transport import TransientError
from newsletter.models import Delivery


def retry_or_fail(
    delivery: Delivery, error: TransientError, writer: ClaimWriter
) -> str:
    attempts = delivery.attempts + 1
    if attempts >= settings.NEWSLETTER_MAX_ATTEMPTS:
        writer.record(
            delivery,
            status=Delivery.Status.FAILED,
            attempts=attempts,
            smtp_code=error.code,
            error=f"Gave up after {attempts} attempts: {error.reason}"[:500],
            claim=None,
        )
        return Delivery.Status.FAILED
    delay = settings.NEWSLETTER_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    writer.record(
        delivery,
        status=Delivery.Status.QUEUED,
        attempts=attempts,
        smtp_code=error.code,
        error=error.reason[:500],
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        claim=None,
    )
    return Delivery.Status.QUEUED
