"""Test sends from the admin go to the signed-in staff member's own address."""

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest


def send_to_self(
    request: HttpRequest, *, send: Callable[[str], None], sent_message: str
) -> None:
    """send(address) to the user's own address, or say why there is none;
    `sent_message` is formatted with the address as {to}."""
    to = (request.user.email or "").strip()
    if not to:
        messages.error(
            request,
            "Your account has no email address, so there is nowhere to send a "
            "test. Add one to your user account, then try again.",
        )
        return
    send(to)
    messages.success(request, sent_message.format(to=to))
