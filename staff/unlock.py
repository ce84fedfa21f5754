"""Emailed unlock links: how the owner of an account locked by password guessing
gets past the account limit (staff/sign_in_limits.py), still with their password
and second factor.

Anyone may ask for a link for any username: the answer is the same whether or not
the account exists, and the lookup and the email happen in the background
(staff.tasks.send_unlock_link), so neither the page nor its timing tells. A link
goes only to the account's own address, works once, within
settings.STAFF_UNLOCK_LINK_MAX_AGE, and is kept only as a hash.
"""

import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from staff import sign_in_limits, tasks
from staff.models import UnlockLink, link_digest

WINDOW_SECONDS = 60 * 60


class UnlockError(Exception):
    """A link that cannot be used; the message says why and what to do."""


def request_link(*, username: str, network: str | None) -> bool:
    """Have an unlock link for `username` emailed to the account's address, if
    there is such a staff account. False when this network has asked too often
    this hour (settings.STAFF_UNLOCK_REQUESTS_PER_NETWORK), so nobody can use the
    form to flood a mailbox or the task queue."""
    username = username.strip()
    if not username or not _count_request(network):
        return False
    transaction.on_commit(lambda: tasks.send_unlock_link.enqueue(username))
    return True


def usable_link(token: str) -> UnlockLink:
    """The unused, unexpired link `token` opens; UnlockError if none."""
    link = (
        UnlockLink.objects.select_related("user")
        .filter(token_digest=link_digest(token))
        .first()
    )
    if link is None or link.used_at is not None or link.expires_at <= timezone.now():
        raise UnlockError(
            "This unlock link has expired or has been used. Ask for a new one "
            "from the sign-in page."
        )
    return link


def use_link(*, request: HttpRequest, token: str) -> UnlockLink:
    """Spend the link and give this browser an unlock pass for its account."""
    link = usable_link(token)
    # The update is the check: of two requests with the same link, one wins.
    used = UnlockLink.objects.filter(pk=link.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if not used:
        raise UnlockError(
            "This unlock link has been used. Ask for a new one from the sign-in page."
        )
    sign_in_limits.give_unlock_pass(request=request, username=link.user.get_username())
    return link


def _count_request(network: str | None) -> bool:
    key = f"staff:unlock-requests:{network}:{int(time.time() // WINDOW_SECONDS)}"
    timeout = WINDOW_SECONDS + 60
    if cache.add(key, 1, timeout=timeout):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:
            # Expired between add and incr: this is the first request again.
            cache.add(key, 1, timeout=timeout)
            count = 1
    return count <= settings.STAFF_UNLOCK_REQUESTS_PER_NETWORK
