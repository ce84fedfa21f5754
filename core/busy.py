"""A clear "busy, try again in a moment" instead of a server error, on SQLite.

SQLite lets one process write at a time. A request that waits longer than the
busy timeout (20 s, skincare/settings.py) for the write lock, held for instance by
a worker stopped in the middle of a write, fails with "database is locked". That is
no fault of the request: it gets a 503 page saying to send it again in a moment,
with Retry-After, rather than a 500. The write that waited was not made, an admin
form's save is one transaction (rolled back with it), and Django saves no session
on a 5xx answer.
"""

import logging

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


def is_locked(exc: Exception) -> bool:
    """SQLite's "database is locked" (or "database table is locked")."""
    return isinstance(exc, OperationalError) and "is locked" in str(exc).lower()


class DatabaseBusyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not is_locked(exception):
            return None
        logger.warning(
            "The database was locked for %s %s: answered 503",
            request.method,
            request.path,
        )
        response = render(
            request, "503.html", {"retry_after": RETRY_AFTER_SECONDS}, status=503
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
