"""The product's URLs plus /bench-ok/, the baseline of bench/page_speed.py: a view
that does no work, behind the same middleware as every page."""

from django.http import HttpResponse
from django.urls import include, path


def bench_ok(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench-ok/", bench_ok),
    path("", include("skincare.urls")),
]
