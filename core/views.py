from functools import cache

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

FAVICON = "img/favicon.ico"
# Browsers ask for /favicon.ico at that fixed address, so it cannot carry a hash
# the way static files do: a month's cache spares the request on every visit
# and still lets a new icon reach readers.
FAVICON_MAX_AGE = 60 * 60 * 24 * 30


@cache
def _favicon_bytes() -> bytes:
    with open(finders.find(FAVICON), "rb") as icon:
        return icon.read()


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers and feed readers request by themselves."""
    response = HttpResponse(_favicon_bytes(), content_type="image/x-icon")
    response["Cache-Control"] = f"public, max-age={FAVICON_MAX_AGE}"
    return response
