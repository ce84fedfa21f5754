"""The one retry policy of every kind of send (issues, the welcome email).

A message refused for now (a 4xx answer, a 429 or 5xx from a provider's API, a
connection that never opened) is known unsent: it is queued again with exponential
back-off, NEWSLETTER_RETRY_BASE_SECONDS doubled at each attempt, until
NEWSLETTER_MAX_ATTEMPTS attempts have been made; then it has failed.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from newsletter.delivery.transport import TransientError


@dataclass(frozen=True)
class Retry:
    """What becomes of one message after a transient failure."""

    attempts: int  # counting the one that just failed
    code: int | None
    error: str
    at: datetime | None  # when to try again; None: given up, it has failed

    @property
    def gave_up(self) -> bool:
        return self.at is None


def after_failure(*, attempts: int, error: TransientError) -> Retry:
    """The decision once a message made `attempts` attempts before this one."""
    attempts += 1
    if attempts >= settings.NEWSLETTER_MAX_ATTEMPTS:
        reason = f"Gave up after {attempts} attempts: {error.reason}"[:500]
        return Retry(attempts=attempts, code=error.code, error=reason, at=None)
    delay = settings.NEWSLETTER_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    return Retry(
        attempts=attempts,
        code=error.code,
        error=error.reason[:500],
        at=timezone.now() + timedelta(seconds=delay),
    )
