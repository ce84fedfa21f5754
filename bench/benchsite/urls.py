"""The product's URLs plus /bench-ok/, the baseline of bench/page_speed.py: a view
that does no work, behind the same middleware as every page. It says whether this
instance reads the stored article page through the ORM (BENCH_PLAIN_READS), so the
bench can check that the variant it measures is the one it asked for."""

from django.conf import settings
from django.http import HttpResponse
from django.urls import include, path


def bench_ok(request):
    text = "ok, plain reads" if settings.PLAIN_READS else "ok"
    return HttpResponse(text, content_type="text/plain")


urlpatterns = [
    path("bench-ok/", bench_ok),
    path("", include("skincare.urls")),
]
