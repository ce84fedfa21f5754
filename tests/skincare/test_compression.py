"""gzip for public pages, feeds and the sitemap; never for a response with a secret
(skincare.middleware.SecretFreeGZipMiddleware)."""

import gzip

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.template import engines
from django.test import Client, RequestFactory
from django.urls import reverse

from newsletter.subscribers.tokens import Purpose, make_token
from skincare.middleware import SecretFreeGZipMiddleware
from tests.factories import make_article, make_subscriber, make_user

pytestmark = pytest.mark.django_db

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}


@pytest.fixture
def content():
    article = make_article(body="<p>" + "Gentle cleansing matters. " * 40 + "</p>")
    return {"article": article.get_absolute_url(), "topic": article.topic}


def assert_gzipped_copy_of(client, url: str, content_type: str) -> None:
    plain = client.get(url)
    packed = client.get(url, **GZIP)
    assert plain.status_code == packed.status_code == 200, url
    assert "Content-Encoding" not in plain.headers, url
    assert packed["Content-Encoding"] == "gzip", url
    assert "Accept-Encoding" in packed["Vary"], url
    assert packed["Content-Type"].startswith(content_type), url
    unpacked = gzip.decompress(packed.content)
    assert unpacked == plain.content, url
    assert int(packed["Content-Length"]) == len(packed.content) < len(unpacked), url


def assert_not_compressed(response) -> None:
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    # Plain bytes a client can read as they are.
    assert response.content.lstrip().startswith(b"<")


def test_public_pages_come_back_gzipped_and_decompress_to_the_same_html(
    client, content
):
    for url in (
        reverse("articles:home"),
        content["article"],
        reverse("articles:list"),
        content["topic"].get_absolute_url(),
        reverse("articles:search") + "?q=cleansing",
        reverse("newsletter:subscribe"),
        reverse("newsletter:archive"),
    ):
        assert_gzipped_copy_of(client, url, "text/html")


def test_feeds_and_sitemap_come_back_gzipped(client, content):
    assert_gzipped_copy_of(client, reverse("articles:feed"), "application/rss+xml")
    assert_gzipped_copy_of(
        client, reverse("articles:feed_atom"), "application/atom+xml"
    )
    assert_gzipped_copy_of(
        client,
        reverse("articles:topic_feed", kwargs={"slug": content["topic"].slug}),
        "application/rss+xml",
    )
    assert_gzipped_copy_of(client, "/sitemap.xml", "application/xml")


def test_a_client_that_does_not_accept_gzip_gets_plain_html(client, content):
    response = client.get(content["article"], HTTP_ACCEPT_ENCODING="identity")
    assert_not_compressed(response)
    assert "Accept-Encoding" in response["Vary"]


def test_admin_for_a_signed_in_user_is_never_compressed(staff_client, content):
    for url in (
        reverse("admin:index"),
        reverse("admin:articles_article_changelist"),
        reverse("admin:articles_article_add"),
    ):
        assert_not_compressed(staff_client.get(url, **GZIP))


def test_public_pages_are_not_compressed_for_a_signed_in_user(staff_client, content):
    assert_not_compressed(staff_client.get(content["article"], **GZIP))


def test_admin_login_page_with_its_csrf_token_is_not_compressed(client):
    response = client.get(reverse("admin:login"), **GZIP)
    assert_not_compressed(response)
    assert b"csrfmiddlewaretoken" in response.content


def test_a_response_that_used_a_csrf_token_is_not_compressed():
    # A public page that rendered {% csrf_token %}: the real CSRF middleware
    # inside the compression middleware, as in settings.MIDDLEWARE.
    template = engines["django"].from_string(
        "<!DOCTYPE html><form method=post>{% csrf_token %}"
        + "<p>Search again for {{ q }}</p>" * 20
        + "</form>"
    )

    def view(request):
        return HttpResponse(template.render({"q": request.GET["q"]}, request))

    stack = SecretFreeGZipMiddleware(CsrfViewMiddleware(view))
    request = RequestFactory().get("/anything/?q=token", **GZIP)
    response = stack(request)
    assert b"csrfmiddlewaretoken" in response.content
    assert settings.CSRF_COOKIE_NAME in response.cookies
    assert "Content-Encoding" not in response.headers

    def no_token_view(request):
        return HttpResponse(
            "<!DOCTYPE html>" + "<p>Search again for token</p>" * 20,
        )

    control = SecretFreeGZipMiddleware(CsrfViewMiddleware(no_token_view))(
        RequestFactory().get("/anything/?q=token", **GZIP)
    )
    assert control["Content-Encoding"] == "gzip"


def test_personal_token_pages_are_never_compressed(client):
    subscriber = make_subscriber()
    for name, purpose in (
        ("confirm", Purpose.CONFIRM),
        ("unsubscribe", Purpose.UNSUBSCRIBE),
        ("data", Purpose.DATA),
    ):
        token = make_token(subscriber=subscriber, purpose=purpose)
        url = reverse(f"newsletter:{name}", kwargs={"token": token})
        response = client.get(url, **GZIP)
        assert_not_compressed(response)
        assert token in response.text, name


def test_a_signed_in_persons_public_page_is_not_compressed_and_private(content):
    visitor = Client()
    visitor.force_login(make_user(username="reader"))
    response = visitor.get(content["article"], **GZIP)
    assert_not_compressed(response)
    assert "private" in response["Cache-Control"]


def test_a_request_carrying_a_session_cookie_is_not_compressed(content):
    # Nobody is signed in behind this cookie: the page is the public one, but
    # anything sent with a session cookie is left uncompressed.
    visitor = Client()
    visitor.cookies[settings.SESSION_COOKIE_NAME] = "anything"
    response = visitor.get(content["article"], **GZIP)
    assert_not_compressed(response)
    assert response["Cache-Control"].startswith("public")


@pytest.mark.parametrize(
    ("content_type", "compressed"),
    [
        ("text/html; charset=utf-8", True),
        ("application/json", True),
        ("text/plain; charset=utf-8", False),
        ("image/svg+xml", False),
        ("image/png", False),
    ],
)
def test_only_pages_feeds_and_json_are_compressed(content_type, compressed):
    def view(request):
        return HttpResponse(b"<x>" + b"repeat " * 200 + b"</x>", content_type)

    response = SecretFreeGZipMiddleware(view)(RequestFactory().get("/x/", **GZIP))
    assert (response.get("Content-Encoding") == "gzip") is compressed


def test_a_response_already_encoded_is_left_alone():
    def view(request):
        response = HttpResponse(b"<p>" + b"repeat " * 200, "text/html")
        response["Content-Encoding"] = "br"
        return response

    response = SecretFreeGZipMiddleware(view)(RequestFactory().get("/x/", **GZIP))
    assert response["Content-Encoding"] == "br"
    assert response.content.startswith(b"<p>repeat")


def test_compression_sits_below_whitenoise_and_above_what_sets_cookies():
    order = settings.MIDDLEWARE
    gzip_at = order.index("skincare.middleware.SecretFreeGZipMiddleware")
    assert order.index("django.middleware.security.SecurityMiddleware") < gzip_at
    assert order.index("whitenoise.middleware.WhiteNoiseMiddleware") < gzip_at
    for later in (
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "skincare.middleware.PathAwareCSPMiddleware",
    ):
        assert gzip_at < order.index(later), later
