"""The front proxy (deploy/nginx/skincare.conf): nginx starts with it, keeps public
pages, shows a publish within a second, and never keeps staff, preview or
cookie-bearing answers."""

import gzip
import http.client
import subprocess
import time

import pytest
from django_tasks_db.models import DBTaskResult

from articles.editorial import revisions, workflow
from articles.models import Article
from core import frontproxy, pagecache
from tests.deploy import nginx
from tests.factories import make_article, make_role_user

SECRET = "test-refresh-secret-0123456789"
LONG_SUMMARY = "A summary long enough to pass the content checks for summaries, yes."
# A publish must be visible through the proxy this soon after it returns.
VISIBLE_WITHIN = 1.0


@pytest.fixture
def nginx_executable() -> str:
    return nginx.required_nginx()


@pytest.fixture
def front_proxy(nginx_executable, tmp_path, live_server, settings):
    """nginx in front of the live server, and the site told to refresh it."""
    upstream = live_server.url.removeprefix("http://")
    proxy = nginx.render(nginx_executable, tmp_path, upstream=upstream, secret=SECRET)
    settings.FRONT_PROXY_URLS = [proxy.url]
    settings.FRONT_PROXY_REFRESH_SECRET = SECRET
    settings.SITE_URL = proxy.url
    # nginx passes the reader's Host on: the proxy's address.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with nginx.running(proxy):
        yield proxy


def get(
    proxy: nginx.FrontProxy, path: str, headers: dict | None = None
) -> tuple[int, http.client.HTTPMessage, str]:
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    try:
        connection.request(
            "GET", path, headers={"Accept-Encoding": "gzip", **(headers or {})}
        )
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return response.status, response.headers, body.decode()


def cache_status(proxy: nginx.FrontProxy, path: str, **headers: str) -> str:
    return get(proxy, path, headers)[1].get("X-Cache-Status", "")


def test_the_configuration_passes_nginx_t(nginx_executable, tmp_path):
    proxy = nginx.render(
        nginx_executable, tmp_path, upstream="127.0.0.1:8000", secret=SECRET
    )
    text = (tmp_path / "skincare.conf").read_text()
    assert "@" not in text  # Every placeholder filled.
    checked = subprocess.run(
        proxy.command("-t"), capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_every_placeholder_of_the_configuration_is_named(nginx_executable):
    text = nginx.CONFIG.read_text()
    for placeholder in nginx.PLACEHOLDERS:
        assert text.count(placeholder) >= 2, placeholder  # Used, and explained.


def test_a_publish_is_visible_through_the_proxy_within_a_second(front_proxy):
    editor = make_role_user("Editor", username="proxy-editor")
    article = make_article(
        title="Before the change", summary=LONG_SUMMARY, created_by=editor
    )
    url = article.get_absolute_url()
    status, headers, text = get(front_proxy, url)
    assert status == 200 and "Before the change" in text
    assert headers["X-Cache-Status"] == "MISS"
    status, headers, text = get(front_proxy, url)
    assert headers["X-Cache-Status"] == "HIT"
    assert "Before the change" in text
    # Without gzip the stored (gzipped) copy is unpacked, still from the cache.
    status, headers, text = get(front_proxy, url, {"Accept-Encoding": "identity"})
    assert headers["X-Cache-Status"] == "HIT" and "Before the change" in text

    data = revisions.snapshot(article)
    data["title"] = "After the change"
    workflow.save_draft(article=article, data=data, user=editor)
    workflow.publish(article=Article.objects.get(pk=article.pk), user=editor)
    # The editor sees "Published": from now on readers must get the new page.
    published = time.monotonic()
    first_text = text = get(front_proxy, url)[2]
    while "After the change" not in text and time.monotonic() - published < 5:
        time.sleep(0.05)
        status, headers, text = get(front_proxy, url)
    waited = time.monotonic() - published
    assert "After the change" in text
    assert waited <= VISIBLE_WITHIN
    # In fact at once: the publish refreshed nginx's copy before it returned.
    assert "After the change" in first_text
    status, headers, text = get(front_proxy, url)
    # From the cache again: the refresh replaced the copy, it did not drop it.
    assert headers["X-Cache-Status"] == "HIT"
    list_page = get(front_proxy, "/articles/")
    assert "After the change" in list_page[2]
    assert list_page[1]["X-Cache-Status"] == "HIT"


def test_an_unpublished_article_is_gone_from_the_proxy_at_once(front_proxy):
    editor = make_role_user("Editor", username="proxy-unpublisher")
    article = make_article(title="Soon withdrawn", summary=LONG_SUMMARY)
    url = article.get_absolute_url()
    get(front_proxy, url)
    status, headers, text = get(front_proxy, url)
    assert headers["X-Cache-Status"] == "HIT" and "Soon withdrawn" in text

    workflow.unpublish(article=Article.objects.get(pk=article.pk), user=editor)
    # A withdrawn medical article must not be served from a stale copy.
    status, headers, text = get(front_proxy, url)
    assert status == 404, (status, headers.get("X-Cache-Status"))
    assert "Soon withdrawn" not in text


def test_tracking_parameters_share_the_copy_a_refresh_replaces(front_proxy):
    article = make_article(title="One copy", summary=LONG_SUMMARY)
    url = article.get_absolute_url()
    assert cache_status(front_proxy, url) == "MISS"
    assert cache_status(front_proxy, f"{url}?utm_source=newsletter") == "HIT"
    assert cache_status(front_proxy, "/articles/?page=2") == "MISS"


def test_a_wrong_refresh_secret_is_an_ordinary_request(front_proxy):
    article = make_article(summary=LONG_SUMMARY)
    url = article.get_absolute_url()
    get(front_proxy, url)
    wrong = {"X-Skincare-Refresh": "guess"}
    assert cache_status(front_proxy, url, **wrong) == "HIT"
    assert cache_status(front_proxy, url, **{"X-Skincare-Refresh": SECRET}) == "BYPASS"


def test_staff_pages_previews_and_the_beacon_never_come_from_the_cache(front_proxy):
    for path in ["/admin/login/", "/preview/not-a-token/"]:
        first = cache_status(front_proxy, path)
        second = cache_status(front_proxy, path)
        assert first == second == "BYPASS", path


def test_signed_in_or_form_filling_visitors_never_get_the_cached_page(front_proxy):
    article = make_article(summary=LONG_SUMMARY)
    url = article.get_absolute_url()
    get(front_proxy, url)
    assert cache_status(front_proxy, url) == "HIT"
    for cookie in ["sessionid=abc", "csrftoken=abc", "messages=abc"]:
        assert cache_status(front_proxy, url, Cookie=cookie) == "BYPASS", cookie
    # A cookie the site does not use changes nothing.
    assert cache_status(front_proxy, url, Cookie="theme=dark") == "HIT"


def test_a_post_never_gets_the_cached_page(front_proxy):
    article = make_article(summary=LONG_SUMMARY)
    url = article.get_absolute_url()
    get(front_proxy, url)
    assert cache_status(front_proxy, url) == "HIT"
    connection = http.client.HTTPConnection("127.0.0.1", front_proxy.port, timeout=10)
    try:
        connection.request("POST", url, body=b"x=1")
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status != 200  # Django's answer, not the stored page.
    assert response.headers.get("X-Cache-Status", "") == ""  # The cache unasked.


@pytest.mark.urls("tests.deploy.urls")
def test_an_answer_that_sets_a_cookie_is_never_stored(front_proxy):
    statuses = []
    for _ in range(2):
        _, headers, _ = get(front_proxy, "/front-proxy/cookie/")
        assert "visitor=one" in headers["Set-Cookie"]
        statuses.append(headers["X-Cache-Status"])
    assert statuses == ["MISS", "MISS"]


def test_private_answers_are_never_stored(front_proxy):
    # Search results are `private, no-store`: asked twice, fetched twice.
    statuses = [cache_status(front_proxy, "/search/?q=acne") for _ in range(2)]
    assert statuses == ["MISS", "MISS"]


# The refresh without nginx ---------------------------------------------------------


def test_a_front_proxy_that_does_not_answer_is_logged_never_raised(settings, caplog):
    settings.FRONT_PROXY_URLS = [f"http://127.0.0.1:{nginx.free_port()}"]
    settings.FRONT_PROXY_REFRESH_SECRET = SECRET
    frontproxy.refresh(["https://skin.example/articles/a/"])
    assert "Front proxy refresh failed for 1 of 1 pages" in caplog.text


def test_the_proxy_is_refreshed_before_the_cdn_is_purged(settings, monkeypatch):
    called = []
    monkeypatch.setattr(frontproxy, "refresh", lambda urls: called.append("proxy"))
    monkeypatch.setattr(
        pagecache, "import_string", lambda path: lambda urls: called.append("cdn")
    )
    settings.FRONT_PROXY_URLS = ["http://127.0.0.1:1"]
    settings.FRONT_PROXY_REFRESH_SECRET = SECRET
    settings.PAGE_CACHE_PURGE = "somewhere.purge"
    pagecache.purge(["/"])
    assert called == ["proxy", "cdn"]


def test_no_refresh_without_both_an_address_and_a_secret(settings):
    settings.FRONT_PROXY_URLS = ["http://127.0.0.1:1"]
    settings.FRONT_PROXY_REFRESH_SECRET = ""
    assert not frontproxy.is_on()
    settings.FRONT_PROXY_REFRESH_SECRET = SECRET
    assert frontproxy.is_on()


@pytest.mark.django_db
def test_deep_page_numbers_are_refreshed_by_a_background_task(
    settings, monkeypatch, database_tasks
):
    asked = []
    monkeypatch.setattr(
        frontproxy, "_refresh_one", lambda job: asked.append(job[1]) or True
    )
    settings.FRONT_PROXY_URLS = ["http://127.0.0.1:1"]
    settings.FRONT_PROXY_REFRESH_SECRET = SECRET
    settings.FRONT_PROXY_REFRESH_AT_ONCE = 3
    site = "https://skin.example"
    frontproxy.refresh(
        [
            f"{site}/articles/?page=10",
            f"{site}/articles/?page=2",
            f"{site}/articles/a/",
            f"{site}/articles/",
            f"{site}/feed/",
        ]
    )
    assert sorted(asked) == [
        f"{site}/articles/",
        f"{site}/articles/a/",
        f"{site}/feed/",
    ]
    queued = DBTaskResult.objects.get(task_path=frontproxy.refresh_later.module_path)
    assert queued.args_kwargs["kwargs"]["urls"] == [
        f"{site}/articles/?page=2",
        f"{site}/articles/?page=10",
    ]
    asked.clear()
    frontproxy.refresh_later.call(urls=queued.args_kwargs["kwargs"]["urls"])
    assert asked == [f"{site}/articles/?page=2", f"{site}/articles/?page=10"]
