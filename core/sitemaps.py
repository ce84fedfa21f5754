"""What every part of /sitemap.xml shares: addresses on the site's own URL."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap


class SiteURLSitemap(Sitemap):
    """Addresses on SITE_URL, whichever host name the request came in on."""

    def get_protocol(self, protocol=None) -> str:
        return urlsplit(settings.SITE_URL).scheme or "https"

    def get_domain(self, site=None) -> str:
        return urlsplit(settings.SITE_URL).netloc
