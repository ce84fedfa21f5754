"""Limits on password guessing at the admin sign-in, on django-axes' records.

django-axes records each failed sign-in (per account as typed, network and browser),
refuses a locked sign-in before the password is checked, and answers with the
lockout page. Two limits decide the lock, each over the records of the last hour
(AXES_COOLOFF_TIME; a record counts until an hour after its latest failure):

- the account limit: STAFF_SIGN_IN_ACCOUNT_LIMIT failures at one account, from any
  number of addresses, so spreading guesses over many machines gains nothing;
- the network limit: STAFF_SIGN_IN_NETWORK_LIMIT failures from one IPv4 address or
  IPv6 /64, across accounts, so trying one password on every account is slow too.

Axes can count by account and by address (two lockout parameter sets) and take the
address from a callable, but it holds every set to one failure limit and has no
way to lift the account limit for its owner alone. So this handler answers axes'
question "how many failures?" with how many of the two limits the request has used
up, against AXES_FAILURE_LIMIT = 1, and leaves all the recording to axes.

An attacker can still keep an account locked, so its owner has two ways past: a
passkey (staff/passkeys.py: it cannot be guessed, and no limit applies to it), or
an emailed single-use unlock link (staff/unlock.py), which gives one browser an
unlock pass: the account limit does not apply to it for a few minutes and a few
tries, until one sign-in works. The network limit still does, and the password and
the second factor are still asked.
"""

import ipaddress
import time
from logging import getLogger

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest

from staff.models import SignInLockout

logger = getLogger(__name__)

Limit = SignInLockout.Limit
UNLOCK_PASS_KEY = "staff_unlock_pass"
UNLOCK_PASS_SECONDS = 15 * 60
UNLOCK_PASS_TRIES = 3


def client_network(request: HttpRequest) -> str | None:
    """Who shares a network budget: the IPv4 address, or the first address of the
    IPv6 /64 (an IPv4-mapped IPv6 address counts as the IPv4 one). REMOTE_ADDR
    only: X-Forwarded-For is anyone's to send."""
    raw = request.META.get("REMOTE_ADDR", "").strip().split("%", 1)[0]
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def failure_count(
    *, since, username: str | None = None, network: str | None = None
) -> int:
    attempts = AccessAttempt.objects.filter(attempt_time__gte=since)
    if username is not None:
        attempts = attempts.filter(username=username)
    if network is not None:
        attempts = attempts.filter(ip_address=network)
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


def limits_in_force(
    request: HttpRequest, credentials: dict | None = None
) -> dict[str, int]:
    """{limit: failures} for each limit this sign-in attempt has used up."""
    since = get_cool_off_threshold(request)
    spent = {}
    username = get_client_username(request, credentials)
    if username and not holds_unlock_pass(request, username):
        count = failure_count(since=since, username=username)
        if count >= settings.STAFF_SIGN_IN_ACCOUNT_LIMIT:
            spent[Limit.ACCOUNT] = count
    network = client_network(request)
    if network is not None:
        count = failure_count(since=since, network=network)
        if count >= settings.STAFF_SIGN_IN_NETWORK_LIMIT:
            spent[Limit.NETWORK] = count
    return spent


def record_lockout(
    *, limit: str, username: str, network: str | None, failures: int
) -> SignInLockout:
    """Store and log one limit running out."""
    lockout = SignInLockout.objects.create(
        limit=limit, username=username, network=network, failures=failures
    )
    logger.warning(
        "Sign-in locked: %s reached (account %r, network %s, %d failures in the "
        "last hour).",
        lockout.get_limit_display().lower(),
        username,
        network,
        failures,
    )
    return lockout


# The unlock pass ------------------------------------------------------------------


def give_unlock_pass(*, request: HttpRequest, username: str) -> None:
    """Let this browser past `username`'s account limit, for UNLOCK_PASS_TRIES
    sign-in attempts within UNLOCK_PASS_SECONDS, until one works."""
    request.session[UNLOCK_PASS_KEY] = {
        "username": username,
        "until": time.time() + UNLOCK_PASS_SECONDS,
        "tries": UNLOCK_PASS_TRIES,
    }


def holds_unlock_pass(request: HttpRequest, username: str) -> bool:
    # Requests made outside a page (a test's RequestFactory) have no session.
    session = getattr(request, "session", None)
    unlock = session.get(UNLOCK_PASS_KEY) if session is not None else None
    return bool(
        unlock
        and unlock.get("username") == username
        and unlock.get("until", 0) > time.time()
        and unlock.get("tries", 0) > 0
    )


def _use_unlock_try(request: HttpRequest, username: str) -> None:
    if holds_unlock_pass(request, username):
        unlock = request.session[UNLOCK_PASS_KEY]
        if unlock["tries"] <= 1:
            del request.session[UNLOCK_PASS_KEY]
        else:
            request.session[UNLOCK_PASS_KEY] = {**unlock, "tries": unlock["tries"] - 1}


class SignInLimitHandler(AxesDatabaseHandler):
    """django-axes' database handler, locking by the two limits above
    (AXES_HANDLER)."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        return len(limits_in_force(request, credentials))

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        if request is None:
            super().user_login_failed(sender, credentials, request, **kwargs)
            return
        before = limits_in_force(request, credentials)
        super().user_login_failed(sender, credentials, request, **kwargs)
        username = get_client_username(request, credentials) or ""
        after = limits_in_force(request, credentials)
        for limit in after.keys() - before.keys():
            record_lockout(
                limit=limit,
                username=username,
                network=client_network(request),
                failures=after[limit],
            )
        _use_unlock_try(request, username)

    def user_logged_in(self, sender, request, user, **kwargs):
        super().user_logged_in(sender, request, user, **kwargs)
        # One sign-in that works is what an unlock pass is for.
        request.session.pop(UNLOCK_PASS_KEY, None)
