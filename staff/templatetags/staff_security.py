"""The sign-in lockouts panel of the admin home, for superusers only."""

from django import template
from django.conf import settings

from staff import selectors

register = template.Library()

ROWS_MAX = 10


@register.inclusion_tag("staff/includes/recent_lockouts.html", takes_context=True)
def recent_lockouts(context) -> dict:
    if not context["request"].user.is_superuser:
        return {"shown": False}
    lockouts = selectors.recent_lockouts()
    return {
        "shown": True,
        "rows": list(lockouts[:ROWS_MAX]),
        "count": lockouts.count(),
        "days": selectors.LOCKOUTS_SHOWN_DAYS,
        "account_limit": settings.STAFF_SIGN_IN_ACCOUNT_LIMIT,
        "network_limit": settings.STAFF_SIGN_IN_NETWORK_LIMIT,
    }
