from django.contrib import admin
from django.urls import include, path

from articles.public import SITEMAPS, robots_txt
from core.calendar.views import feed_view
from core.health import WEB_CHECKS, HealthView
from core.media import serve_media
from core.pagecache import public_page
from core.sitemaps import sitemap_file, sitemap_index
from core.views import favicon
from newsletter.web.sitemaps import SITEMAPS as NEWSLETTER_SITEMAPS

SITEMAP_SECTIONS = {**SITEMAPS, **NEWSLETTER_SITEMAPS}

admin.site.site_header = "Skincare admin"
admin.site.site_title = "Skincare admin"
admin.site.index_title = "Articles and site content"

urlpatterns = [
    # Under /admin/ so the admin's looser CSP covers the editor's upload dialog.
    path("admin/ckeditor/", include("core.editor.urls")),
    # Before the admin, under /admin/ so the admin's look and CSP apply.
    path("admin/second-factor/", include("staff.urls")),
    # Passkeys: django-otp-webauthn's views with the site's rules (staff/passkeys.py).
    path("admin/passkeys/", include("staff.passkey_urls")),
    # The emailed invitation link (staff/invitations): its pages look like sign-in.
    path("admin/invitation/", include("staff.invitations.urls")),
    # The editorial calendar, before the admin for the same reasons.
    path("admin/calendar/", include("core.calendar.urls")),
    path("admin/", admin.site.urls),
    # A staff member's calendar feed: its secret token is its only key.
    path("calendar/<str:token>.ics", feed_view, name="calendar_feed"),
    path("media/<path:path>", serve_media, name="media"),
    path(
        "sitemap.xml",
        public_page(sitemap_index),
        {"sections": SITEMAP_SECTIONS},
        name="sitemap",
    ),
    path(
        "sitemaps/<slug:section>-<int:page>.xml",
        public_page(sitemap_file),
        {"sections": SITEMAP_SECTIONS},
        name="sitemap_file",
    ),
    path("robots.txt", public_page(robots_txt), name="robots_txt"),
    path("favicon.ico", favicon, name="favicon"),
    path("health/", HealthView.as_view(), name="health"),
    path("health/web/", HealthView.as_view(checks=WEB_CHECKS), name="health-web"),
    path("newsletter/", include("newsletter.web.urls")),
    path("", include("articles.web.urls")),
]
