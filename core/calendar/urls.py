"""The admin calendar's pages, mounted under /admin/calendar/ (the admin's
sign-in and look); the feed itself is at /calendar/<token>.ics
(skincare/urls.py)."""

from django.contrib import admin
from django.urls import path
from django.views.decorators.http import require_http_methods

from core.calendar import views

app_name = "calendar"
urlpatterns = [
    path(
        "",
        admin.site.admin_view(require_http_methods(["GET"])(views.calendar_page)),
        name="calendar",
    ),
    path(
        "feed/",
        admin.site.admin_view(require_http_methods(["GET", "POST"])(views.feed_page)),
        name="feed_settings",
    ),
]
