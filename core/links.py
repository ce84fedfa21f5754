"""Absolute addresses on this site, always built from settings.SITE_URL.

Emails and feeds have no base URL, and search engines must see the one real
address, so nothing here uses the request's host.
"""

import re

from django.conf import settings

_ROOT_RELATIVE = re.compile(r'(\s(?:href|src)=")/(?!/)')


def absolute(url: str) -> str:
    """An absolute address on this site for a path (full URLs pass through)."""
    if re.match(r"^https?://", url):
        return url
    if url.startswith("//"):
        return f"{settings.SITE_URL.split(':', 1)[0]}:{url}"
    return f"{settings.SITE_URL}{url if url.startswith('/') else '/' + url}"


def absolutize_html(html: str) -> str:
    """Make the site's own root-relative links and images absolute."""
    return _ROOT_RELATIVE.sub(rf"\1{settings.SITE_URL}/", html or "")
