import logging

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render

from newsletter.admin.forms import MAX_IMPORT_BYTES

logger = logging.getLogger(__name__)


class PathAwareCSPMiddleware(CSPMiddleware):
    """Strict CSP everywhere, the looser one CKEditor needs under /admin/ only."""

    def get_policy_parts(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        report_only: bool = False,
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and request.path_info.startswith("/admin/"):
            parts.config = settings.ADMIN_CONTENT_SECURITY_POLICY
        return parts


# Multipart boundaries, headers and the CSRF token around an upload.
UPLOAD_OVERHEAD_BYTES = 64 * 1024


def public_body_limit() -> int:
    """Forms on public pages (sign-up, confirm, data) are a few hundred bytes."""
    return settings.PUBLIC_REQUEST_MAX_BYTES


def staff_body_limit() -> int:
    """The largest file staff may upload (an image, or a subscriber CSV), plus the
    form's other fields (capped by DATA_UPLOAD_MAX_MEMORY_SIZE) and some overhead."""
    largest_file = max(settings.MAX_IMAGE_UPLOAD_BYTES, MAX_IMPORT_BYTES)
    return largest_file + settings.DATA_UPLOAD_MAX_MEMORY_SIZE + UPLOAD_OVERHEAD_BYTES


class RequestSizeLimitMiddleware:
    """Refuses a request whose declared body is too big before anything reads it.

    Only logged-in staff (image uploads, the CSV import, long articles) may send
    big bodies; everyone else gets a small limit, so the public pages cannot be
    made to parse, store or echo back megabytes. A body without Content-Length is
    read by Django as empty, so the header is all there is to check.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > public_body_limit():
            user = getattr(request, "user", None)
            is_staff = bool(user and user.is_active and user.is_staff)
            limit = staff_body_limit() if is_staff else public_body_limit()
            if length > limit:
                logger.info(
                    "Refused a %d-byte request to %s (limit %d)",
                    length,
                    request.path,
                    limit,
                )
                return render(
                    request,
                    "413.html",
                    {"limit": limit, "staff_limit": is_staff},
                    status=413,
                )
        return self.get_response(request)
