"""The site's URLs plus one page that sets a cookie while saying it is public,
which the site itself never sends: nginx must still not store it."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from skincare.urls import urlpatterns as site_urlpatterns


def public_page_with_cookie(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("<p>A page that sets a cookie.</p>")
    response["Cache-Control"] = "public, max-age=0, s-maxage=300"
    response.set_cookie("visitor", "one")
    return response


urlpatterns = [
    path("front-proxy/cookie/", public_page_with_cookie),
    *site_urlpatterns,
]
