"""The page django-axes answers with once a sign-in limit has run out
(staff/sign_in_limits.py): which limit, and the two ways past it for the owner."""

import math

from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from staff import sign_in_limits
from staff.forms import UnlockRequestForm


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """The admin's own look, the limit that ran out, a passkey sign-in (no limit
    applies to it) and, for the account limit, the form for an unlock link;
    Retry-After for clients."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    spent = sign_in_limits.limits_in_force(request, credentials)
    context = {
        **admin.site.each_context(request),
        "title": "Sign-in paused",
        "minutes": math.ceil(seconds / 60),
        "account_locked": sign_in_limits.Limit.ACCOUNT in spent,
        "network_locked": sign_in_limits.Limit.NETWORK in spent,
        "account_limit": settings.STAFF_SIGN_IN_ACCOUNT_LIMIT,
        "network_limit": settings.STAFF_SIGN_IN_NETWORK_LIMIT,
        "form": UnlockRequestForm(),
        "unlock_username": get_client_username(request, credentials) or "",
    }
    response = render(
        request,
        "admin/locked_out.html",
        context,
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
