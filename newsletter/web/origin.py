"""Is a sign-up POST from one of our own pages? Checked instead of a CSRF token.

The public sign-up form carries no per-visitor token, so every public page is the
same for everyone and can be compressed without a secret for BREACH to find
(skincare.middleware.SecretFreeGZipMiddleware). Cross-site sign-ups are refused
from what browsers say about where a request comes from:

- Origin, when sent (every current browser sends it on a form POST): it must be
  this site's own origin (scheme and host as the request arrived) or one of
  settings.CSRF_TRUSTED_ORIGINS. "null" (sandboxed frames, privacy redirects) is
  not ours.
- Otherwise Sec-Fetch-Site, when sent: "same-origin", or "none" (typed by the
  user), are ours; "same-site" and "cross-site" are not.
- A request with neither header does not come from a browser page, so no
  visitor's browser can be made to send it; it is allowed. Sign-up is double
  opt-in and rate-limited per IP, so such a client can do no more than a person
  typing the address into the form.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import is_same_domain

OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def _trusted(origin: str) -> bool:
    parts = urlsplit(origin)
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        if origin == trusted.lower():
            return True
        # Django's wildcard form, "https://*.example.com".
        allowed = urlsplit(trusted.lower())
        if (
            "*" in allowed.netloc
            and parts.scheme == allowed.scheme
            and is_same_domain(parts.netloc, allowed.netloc.replace("*", "", 1))
        ):
            return True
    return False


def is_own_origin(request: HttpRequest) -> bool:
    """True unless the browser says the request comes from another site."""
    origin = request.headers.get("Origin")
    if origin is not None:
        origin = origin.strip().lower()
        own = f"{request.scheme}://{request.get_host()}".lower()
        return origin == own or _trusted(origin)
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site.strip().lower() in OWN_FETCH_SITES
    return True
