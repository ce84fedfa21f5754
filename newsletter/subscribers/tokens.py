"""Signed, single-purpose links for subscribers: confirm, unsubscribe, preferences,
data requests, and the emailed link that deletes a subscriber's data.

Each purpose has its own salt, so a token for one can never be used for another. A
token names the subscriber and a digest of their address: if the address changes
or the subscriber is deleted, old links stop working.
"""

import hashlib
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.core import signing

from newsletter.models import Subscriber


class Purpose(StrEnum):
    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"
    DATA = "data"
    DELETE = "delete"
    PREFERENCES = "preferences"


class TokenExpired(Exception):
    def __init__(self, subscriber: Subscriber):
        super().__init__("The link has expired.")
        self.subscriber = subscriber


class TokenInvalid(Exception):
    pass


def _salt(purpose: Purpose) -> str:
    return f"newsletter.{purpose}"


def _digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:12]


def make_token(
    *, subscriber: Subscriber, purpose: Purpose, issue_id: int | None = None
) -> str:
    """`issue_id`: the issue an unsubscribe link was sent in, so that leaving
    through it counts towards that issue (tokens without one keep working)."""
    payload = {"s": subscriber.pk, "e": _digest(subscriber.email)}
    if issue_id is not None:
        payload["i"] = issue_id
    return signing.dumps(payload, salt=_salt(purpose))


def max_age(purpose: Purpose) -> timedelta | None:
    if purpose == Purpose.CONFIRM:
        return timedelta(days=settings.NEWSLETTER_CONFIRM_MAX_AGE_DAYS)
    if purpose == Purpose.DELETE:
        # Emailed on request, used at once: a short life if the email leaks later.
        return timedelta(hours=settings.NEWSLETTER_DELETE_LINK_MAX_AGE_HOURS)
    # Unsubscribe, preference and data links must keep working in old emails.
    return None


# Largest primary key the databases hold (a signed 64-bit integer).
MAX_PK = 2**63 - 1


def _subscriber(payload: object) -> Subscriber | None:
    """The subscriber a payload names, or None for anything but the exact shape
    make_token() writes: a signed token with an unexpected payload (made with a
    leaked key, or an older format) is a bad link like any other, never a 500."""
    if not isinstance(payload, dict):
        return None
    pk, digest = payload.get("s"), payload.get("e")
    # type() rather than isinstance(): True is an int, and would name subscriber 1.
    if type(pk) is not int or not 0 < pk <= MAX_PK or not isinstance(digest, str):
        return None
    subscriber = Subscriber.objects.filter(pk=pk).first()
    if subscriber is None or _digest(subscriber.email) != digest:
        return None
    return subscriber


def read_token(token: str, *, purpose: Purpose) -> Subscriber:
    """The subscriber a token was made for; TokenExpired or TokenInvalid otherwise."""
    salt = _salt(purpose)
    try:
        payload = signing.loads(token, salt=salt, max_age=max_age(purpose))
    except signing.SignatureExpired:
        # Still signed by us, only too old: say so, and allow a new link, as long
        # as it still names a subscriber.
        subscriber = _subscriber(signing.loads(token, salt=salt))
        if subscriber is None:
            raise TokenInvalid from None
        raise TokenExpired(subscriber) from None
    except signing.BadSignature:
        raise TokenInvalid from None
    subscriber = _subscriber(payload)
    if subscriber is None:
        raise TokenInvalid
    return subscriber


def issue_of(token: str, *, purpose: Purpose) -> int | None:
    """The issue a valid token was sent in, if it names one."""
    try:
        payload = signing.loads(token, salt=_salt(purpose))
    except signing.BadSignature:
        return None
    issue_id = payload.get("i") if isinstance(payload, dict) else None
    return issue_id if type(issue_id) is int and 0 < issue_id <= MAX_PK else None
