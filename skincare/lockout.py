"""The page django-axes answers with once an account is locked out on an address."""

import math

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """The admin's own look, the wait in minutes, and Retry-After for clients.

    Each attempt while locked out starts the cool-off again (django-axes' default),
    so the wait is counted from this attempt.
    """
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    minutes = math.ceil(seconds / 60)
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed sign-in attempts",
        "minutes": minutes,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
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
