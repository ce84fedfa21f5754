"""Each staff member's secret feed token: made, revoked, looked up. Only its
SHA-256 is stored (CalendarFeedToken)."""

import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.models import CalendarFeedToken


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def new_feed_token(*, user: AbstractBaseUser) -> str:
    """A new secret for `user`'s feed, replacing (revoking) any earlier one.
    Returned once: only its digest is kept."""
    token = secrets.token_urlsafe(32)
    CalendarFeedToken.objects.filter(user=user).delete()
    CalendarFeedToken.objects.create(user=user, token_hash=digest(token))
    return token


def revoke_feed_token(*, user: AbstractBaseUser) -> bool:
    """Stop `user`'s feed address working; whether there was one."""
    deleted, _ = CalendarFeedToken.objects.filter(user=user).delete()
    return bool(deleted)


def feed_user(token: str) -> AbstractBaseUser | None:
    """The active staff member whose feed `token` opens, or None."""
    if not token or len(token) > 100:
        return None
    found = (
        CalendarFeedToken.objects.select_related("user")
        .filter(token_hash=digest(token))
        .first()
    )
    if found is None or not (found.user.is_active and found.user.is_staff):
        return None
    return found.user
