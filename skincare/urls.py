from ckeditor_uploader.views import browse
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path
from django.views.decorators.cache import never_cache

from articles.seo import robots_txt
from articles.sitemaps import SITEMAPS
from articles.uploads import upload_image
from skincare.media import serve_media

admin.site.site_header = "Skincare admin"
admin.site.site_title = "Skincare admin"
admin.site.index_title = "Articles and site content"

urlpatterns = [
    # Under /admin/ so the admin's looser CSP covers the editor's upload dialog.
    path(
        "admin/ckeditor/upload/",
        staff_member_required(upload_image),
        name="ckeditor_upload",
    ),
    path(
        "admin/ckeditor/browse/",
        never_cache(staff_member_required(browse)),
        name="ckeditor_browse",
    ),
    path("admin/", admin.site.urls),
    path("media/<path:path>", serve_media, name="media"),
    path(
        "sitemap.xml",
        sitemap,
        {"sitemaps": SITEMAPS},
        name="django.contrib.sitemaps.views.sitemap",
    ),
    path("robots.txt", robots_txt, name="robots_txt"),
    path("newsletter/", include("newsletter.urls")),
    path("", include("articles.urls")),
]
