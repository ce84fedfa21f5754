"""Reads for staff sign-in pages and the admin home."""

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from staff.models import SignInLockout

LOCKOUTS_SHOWN_DAYS = 7


def recent_lockouts(*, days: int = LOCKOUTS_SHOWN_DAYS) -> QuerySet[SignInLockout]:
    """Lockouts of the last `days` days, newest first."""
    return SignInLockout.objects.filter(
        created_at__gte=timezone.now() - timedelta(days=days)
    )
