import logging

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware
from django.shortcuts import render

from core.media import media_origin

logger = logging.getLogger(__name__)

# Browser features no page of ours uses, off for every page and anything it embeds.
# Passkeys (publickey-credentials-get/-create) keep their default, this site only.
# Only names Chromium knows: an unknown one is logged as a console error.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)


class ResourcePolicyMiddleware:
    """Permissions-Policy and Cross-Origin-Resource-Policy on every response,
    static files and cached pages included (it sits above both).

    Resources are same-origin: no other site may embed our pages, scripts or
    styles. Uploaded media is the exception (cross-origin): newsletter emails,
    feed readers and shared links show article images on other sites' pages.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers.setdefault(
            "Cross-Origin-Resource-Policy",
            "cross-origin"
            if request.path_info.startswith(settings.MEDIA_URL)
            else "same-origin",
        )
        return response


class PathAwareCSPMiddleware(CSPMiddleware):
    """Strict CSP everywhere, the looser one CKEditor needs under /admin/ only.

    Images may also come from where media is stored when that is not this site (a
    bucket or CDN): its origin is taken from the storage's own addresses, so it is
    always the one pages link to.
    """

    def get_policy_parts(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        report_only: bool = False,
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and request.path_info.startswith("/admin/"):
            parts.config = settings.ADMIN_CONTENT_SECURITY_POLICY
        origin = media_origin()
        if origin:
            update = dict(parts.update or {})
            extra = update.get("img-src") or []
            extra = [extra] if isinstance(extra, str) else list(extra)
            update["img-src"] = [*extra, origin]
            parts.update = update
        return parts


# Multipart boundaries, headers and the CSRF token around an upload.
UPLOAD_OVERHEAD_BYTES = 64 * 1024


def public_body_limit() -> int:
    """Forms on public pages (sign-up, confirm, data) are a few hundred bytes."""
    return settings.PUBLIC_REQUEST_MAX_BYTES


def staff_body_limit() -> int:
    """The largest file staff may upload (an image, or a subscriber CSV), plus the
    form's other fields (capped by DATA_UPLOAD_MAX_MEMORY_SIZE) and some overhead."""
    largest_file = max(settings.MAX_IMAGE_UPLOAD_BYTES, settings.MAX_IMPORT_BYTES)
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
        if request.path_info.startswith(settings.WEBHOOK_PATH_PREFIX):
            # Email providers' reports: a bounce can carry the bounced message, and
            # some providers post many events at once. Django's own cap applies.
            if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                logger.info("Refused a %d-byte webhook to %s", length, request.path)
                return render(
                    request,
                    "413.html",
                    {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
                    status=413,
                )
            return self.get_response(request)
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


# Media types worth compressing: pages, feeds, the sitemap, JSON. Images and
# fonts are compressed already; static files never get here (WhiteNoise serves
# them, pre-compressed, from above this middleware).
COMPRESSIBLE_TYPES = frozenset(
    {
        "text/html",
        "text/xml",
        "application/xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/json",
        "application/ld+json",
    }
)


class SecretFreeGZipMiddleware(GZipMiddleware):
    """gzip for responses that hold no secret, so BREACH has nothing to find.

    BREACH recovers a secret from the compressed size of a response that also
    reflects attacker-chosen input. Rather than decide which pages reflect input
    (search does, form errors do), the rule is: compress only responses that carry
    no per-visitor secret at all. A response is left uncompressed when

    - it sets a cookie: rendering {% csrf_token %} (get_token) makes the CSRF
      middleware set its cookie on that very response, and a session or message
      cookie is per-visitor state too. (Django 5 clears the request's
      CSRF_COOKIE_NEEDS_UPDATE flag once it has set the cookie, so the cookie on
      the response is the dependable sign; the flag is checked as well in case a
      view used a token after the CSRF middleware ran);
    - the request has a session cookie (signing in is by session, so everyone
      signed in has one): the admin, staff previews and anything else shown to a
      known person;
    - it is marked private or no-store: the personal newsletter pages, whose
      signed link token is in the page;
    - it is not HTML, XML, RSS/Atom or JSON, or is encoded already.

    Public pages hold no token: the sign-up form is protected by an Origin check
    instead of a CSRF token (newsletter.web.origin), which is what lets them be
    compressed at all.
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not self.holds_no_secret(request, response):
            return response
        return super().process_response(request, response)

    @staticmethod
    def holds_no_secret(request: HttpRequest, response: HttpResponseBase) -> bool:
        media_type = response.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type not in COMPRESSIBLE_TYPES:
            return False
        if response.has_header("Content-Encoding"):
            return False
        if response.cookies or request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
            return False
        # Signing in is by session only: without a session cookie nobody is
        # signed in (and a sign-in during this request set a cookie, above), so
        # the user is never loaded for the anonymous visitors most requests are.
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            return False
        cache_control = response.get("Cache-Control", "").lower()
        return "private" not in cache_control and "no-store" not in cache_control
