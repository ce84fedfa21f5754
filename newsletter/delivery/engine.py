"""The one path every newsletter message takes, whatever kind of send it belongs
to: checked still due, paced, handed over, its outcome recorded.

A kind of send (an issue's deliveries, a subscription's welcome email; a series
of emails later) brings its rows, how a worker claims them, and a SendKind: what
each message is (its recipient, whether it is still due, its bytes for SMTP or
its message for a provider's API) and its writes, each fenced by its claim. The
rest is the same for every kind and lives here:

- the recipient is checked at the moment of sending: whoever left since the send
  was claimed receives nothing;
- every worker keeps to the site's one pace (newsletter/delivery/pacing.py);
- the message goes over the transport (newsletter/delivery/transport.py), the
  kind's guard running right before DATA, so a worker whose claim was taken over
  sends nothing more;
- a message refused for now follows the one retry policy
  (newsletter/delivery/retries.py); a refusal fails it, and a mailbox that does
  not exist marks the subscriber bounced; a connection that broke during DATA
  leaves it uncertain, never sent again blindly.
"""

from enum import StrEnum
from typing import Protocol, TypeVar

from django.core.mail.message import EmailMessage

from newsletter.delivery.pacing import Pacer
from newsletter.delivery.retries import Retry, after_failure
from newsletter.delivery.transport import (
    BAD_MAILBOX_CODES,
    ConnectionLost,
    PermanentError,
    TransientError,
    Transport,
)
from newsletter.models import Subscriber
from newsletter.subscribers.subscriptions import unsubscribe

# One message of a kind of send: its row (a Delivery, a WelcomeDelivery...).
Item = TypeVar("Item")

NOT_SUBSCRIBED_ERROR = "No longer subscribed when the message was due."


class Result(StrEnum):
    """How one message went, as every kind of send records it."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    SKIPPED = "skipped"


class SendKind(Protocol[Item]):
    """What the engine needs of one kind of send, for each of its messages."""

    def recipient(self, item: Item) -> Subscriber: ...

    def attempts(self, item: Item) -> int:
        """Attempts made at this message before this one."""

    def is_due(self, item: Item) -> bool:
        """Whether its recipient should still receive it, checked right now."""

    def smtp_message(self, item: Item) -> tuple[str, bytes, str]:
        """(envelope sender, the bytes of the message, its id once accepted)."""

    def api_message(self, item: Item) -> EmailMessage: ...

    # Its writes, each fenced by the kind's claim on the message.

    def flush(self) -> None:
        """Wait until the writes already made are committed."""

    def guard(self, item: Item) -> None:
        """Right before DATA: raise when this worker may no longer send it."""

    def skipped(self, item: Item, *, error: str) -> None: ...

    def sent(self, item: Item, *, smtp_code: int | None, message_id: str) -> None: ...

    def uncertain(self, item: Item, *, error: str) -> None: ...

    def failed(
        self, item: Item, *, attempts: int, code: int | None, error: str
    ) -> None: ...

    def retry(self, item: Item, *, retry: Retry) -> None:
        """Queue it again at retry.at, or record it failed when retry.gave_up."""


def retry_or_fail(kind: SendKind[Item], item: Item, *, error: TransientError) -> Result:
    """Refused for now (or not reached): known unsent, so safe to try again."""
    retry = after_failure(attempts=kind.attempts(item), error=error)
    kind.retry(item, retry=retry)
    return Result.FAILED if retry.gave_up else Result.RETRY


def deliver(
    kind: SendKind[Item], item: Item, *, transport: Transport, pacer: Pacer
) -> tuple[Result, bool]:
    """Send one message and record its outcome: (result, connection lost).

    A guard that refuses (the claim was lost) raises out of here, the message
    unsent: the kind decides what that means for the rest of its work.
    """
    if not kind.is_due(item):
        kind.skipped(item, error=NOT_SUBSCRIBED_ERROR)
        return Result.SKIPPED, False
    if pacer.rate > 0:
        # The pacer asks the database, on the connection that may still carry the
        # previous outcome's UPDATE: its answer must be read first.
        kind.flush()
    pacer.wait()
    recipient = kind.recipient(item)
    try:
        if transport.smtp:
            sender, payload, message_id = kind.smtp_message(item)
            transport.send_payload(
                sender=sender,
                recipient=recipient.email,
                payload=payload,
                before_data=lambda: kind.guard(item),
            )
        else:
            kind.guard(item)
            message_id = transport.send_message(kind.api_message(item))
    except ConnectionLost as exc:
        if not exc.maybe_delivered:
            return retry_or_fail(kind, item, error=exc), True
        kind.uncertain(
            item, error=f"Connection lost during sending: {exc.reason}"[:500]
        )
        return Result.UNCERTAIN, True
    except PermanentError as exc:
        # The mailbox is gone whatever becomes of this worker's claim.
        kind.flush()
        if exc.code in BAD_MAILBOX_CODES:
            unsubscribe(
                subscriber=recipient, how=Subscriber.LeftHow.BOUNCE, detail=exc.reason
            )
        kind.failed(
            item,
            attempts=kind.attempts(item) + 1,
            code=exc.code,
            error=exc.reason[:500],
        )
        return Result.FAILED, False
    except TransientError as exc:
        return retry_or_fail(kind, item, error=exc), False
    kind.sent(item, smtp_code=250 if transport.smtp else None, message_id=message_id)
    return Result.SENT, False
