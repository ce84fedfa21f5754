"""The page cache (core/pagecache.py): public pages served from the cache, exact
after every kind of change, 304s from the version alone, CDN headers."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from articles.editorial import revisions, workflow
from articles.models import Article, EditorialPolicy, HomePage, Stage
from articles.services import save_article, save_editorial_policy
from core import pagecache
from newsletter.delivery.issues import finish_if_done
from newsletter.models import Issue, Subscriber
from tests.factories import (
    make_article,
    make_author,
    make_draft,
    make_reviewer,
    make_role_user,
    make_topic,
)

pytestmark = pytest.mark.django_db

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}
LONG_SUMMARY = "A summary long enough to pass the content checks for summaries, yes."
PURGED: list[list[str]] = []


def record_purge(urls: list[str]) -> None:
    """settings.PAGE_CACHE_PURGE in these tests: what a CDN would be told."""
    PURGED.append(urls)


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def visitor() -> Client:
    """A new visitor: no cookies."""
    return Client()


@pytest.fixture
def editor(db):
    return make_role_user("Editor", username="cache-editor")


def queries_for(callable_) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as context:
        result = callable_()
    return result, len(context)


def draft_data(article: Article, **changes) -> dict:
    data = revisions.snapshot(article)
    data.update(changes)
    return data


def publish_change(article: Article, editor, **changes) -> Article:
    workflow.save_draft(
        article=article, data=draft_data(article, **changes), user=editor
    )
    return workflow.publish(article=Article.objects.get(pk=article.pk), user=editor)


def new_publishable(editor, **fields) -> Article:
    fields.setdefault("summary", LONG_SUMMARY)
    article = make_draft(created_by=editor, **fields)
    workflow.save_draft(article=article, data=draft_data(article), user=editor)
    return Article.objects.get(pk=article.pk)


# Served from the cache ----------------------------------------------------------------


def test_a_second_visit_is_served_from_the_cache_with_one_query(visitor):
    article = make_article(title="Cached reading")
    first, _ = queries_for(lambda: visitor.get(article.get_absolute_url()))
    second, count = queries_for(lambda: visitor.get(article.get_absolute_url()))
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert "Cached reading" in second.text
    # The page version, nothing else: no article, sources or related lookups.
    assert count == 1


def test_a_cached_page_keeps_every_header_the_rendered_one_had(visitor):
    article = make_article(body="<p>" + "Calm skin. " * 100 + "</p>")
    url = article.get_absolute_url()
    rendered = visitor.get(url, **GZIP)
    cached, count = queries_for(lambda: visitor.get(url, **GZIP))
    assert count == 1
    assert dict(cached.headers) == dict(rendered.headers)
    for header in (
        "Content-Security-Policy",
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Content-Encoding",
    ):
        assert cached[header], header


def test_public_pages_carry_validators_and_cdn_headers_and_no_cookie(visitor):
    article = make_article()
    for url in (
        reverse("articles:home"),
        reverse("articles:list"),
        article.get_absolute_url(),
        article.topic.get_absolute_url(),
        reverse("articles:topics"),
        article.author.get_absolute_url(),
        reverse("articles:feed"),
        "/sitemap.xml",
        "/sitemaps/articles-1.xml",
        reverse("newsletter:archive"),
        reverse("newsletter:subscribe"),
    ):
        response = visitor.get(url)
        assert response.status_code == 200, url
        assert response["ETag"].startswith('W/"'), url
        assert response["Last-Modified"], url
        control = response["Cache-Control"]
        assert control.startswith("public, max-age=0, s-maxage=300"), url
        assert "stale-while-revalidate=60" in control, url
        assert "Accept-Encoding" in response["Vary"], url
        assert "Cookie" not in response.get("Vary", ""), url
        assert not response.cookies, url
        assert "csrfmiddlewaretoken" not in response.text, url


def test_compressed_and_plain_copies_are_kept_apart(visitor):
    article = make_article(body="<p>" + "Gentle words. " * 200 + "</p>")
    url = article.get_absolute_url()
    plain = visitor.get(url)
    compressed = visitor.get(url, **GZIP)
    again_plain = visitor.get(url)
    assert "Content-Encoding" not in plain
    assert compressed["Content-Encoding"] == "gzip"
    assert len(compressed.content) < len(plain.content)
    assert again_plain.content == plain.content


def test_tracking_parameters_share_the_page_but_page_numbers_do_not(visitor):
    for _ in range(12):
        make_article()
    url = reverse("articles:list")
    first = visitor.get(url)
    tagged, count = queries_for(lambda: visitor.get(url + "?utm_source=mail"))
    assert tagged.content == first.content and count == 1
    second_page = visitor.get(url + "?page=2")
    assert second_page.status_code == 200
    assert second_page.content != first.content
    assert second_page["ETag"] != first["ETag"]


def test_missing_pages_are_not_cached(visitor):
    assert visitor.get("/articles/coming-soon/").status_code == 404
    make_article(slug="coming-soon", title="Now here")
    response = visitor.get("/articles/coming-soon/")
    assert response.status_code == 200 and "Now here" in response.text


def test_signed_in_staff_get_a_fresh_private_page(editor):
    article = make_article(title="Staff see this")
    staff = Client()
    staff.force_login(editor)
    response = staff.get(article.get_absolute_url())
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-cache"
    assert "ETag" not in response


def test_anything_not_public_is_private_and_never_stored_by_a_cdn(visitor, client):
    make_article(title="Barrier cream")
    for url in (
        reverse("articles:search") + "?q=barrier",
        reverse("admin:login"),
    ):
        response = visitor.get(url)
        assert "private" in response["Cache-Control"], url
        assert "no-store" in response["Cache-Control"], url


def test_addresses_that_are_not_public_pages_never_read_the_page_version(visitor):
    for url in ("/health/", reverse("articles:search") + "?q=skin", "/nowhere/"):
        with CaptureQueriesContext(connection) as context:
            visitor.get(url)
        assert not any("core_pageversion" in q["sql"] for q in context), url


def test_with_the_cache_off_pages_are_rendered_but_still_validated(settings, visitor):
    settings.PAGE_CACHE = False
    article = make_article()
    visitor.get(article.get_absolute_url())
    response, count = queries_for(lambda: visitor.get(article.get_absolute_url()))
    assert response.status_code == 200 and count > 1
    assert response["ETag"].startswith('W/"')
    etag = response["ETag"]
    again = visitor.get(article.get_absolute_url(), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304


# Conditional GET ---------------------------------------------------------------------


def test_an_unchanged_page_is_answered_304_from_the_version_alone(visitor):
    article = make_article()
    url = article.get_absolute_url()
    etag = visitor.get(url)["ETag"]
    caches["pages"].clear()  # Nothing stored: a 304 needs no page at all.
    response, count = queries_for(lambda: visitor.get(url, HTTP_IF_NONE_MATCH=etag))
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"].startswith("public")
    assert count == 1


def test_if_modified_since_answers_304_until_something_changes(visitor):
    article = make_article()
    url = article.get_absolute_url()
    last_modified = visitor.get(url)["Last-Modified"]
    assert visitor.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    pagecache.content_changed(reason="test")
    later = timezone.now() + timedelta(seconds=2)
    pagecache.PageVersion.objects.update(changed_at=later)
    assert visitor.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 200


def test_a_change_gives_every_page_a_new_etag(visitor):
    article = make_article()
    url = article.get_absolute_url()
    etag = visitor.get(url)["ETag"]
    make_article()
    response = visitor.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag


def test_a_new_release_never_serves_the_old_ones_pages(visitor, monkeypatch):
    article = make_article()
    url = article.get_absolute_url()
    etag = visitor.get(url)["ETag"]
    monkeypatch.setattr(pagecache, "release", lambda: "another-release")
    response, count = queries_for(lambda: visitor.get(url, HTTP_IF_NONE_MATCH=etag))
    assert response.status_code == 200 and count > 1
    assert response["ETag"] != etag


# The Host header -------------------------------------------------------------------
# Django checks the Host against ALLOWED_HOSTS in CommonMiddleware, below the page
# cache: a cached page or a 304 must not be answered to a Host it would refuse.

BAD_HOST = {"HTTP_HOST": "attacker.example"}


@pytest.fixture
def hosts(settings) -> None:
    settings.ALLOWED_HOSTS = ["skincare.example"]


def assert_refused_host(response) -> None:
    assert response.status_code == 400
    assert "ETag" not in response
    assert response["Cache-Control"] == "private, no-store"


def test_a_disallowed_host_gets_400_before_and_after_the_page_is_cached(visitor, hosts):
    article = make_article(title="Cached reading")
    url = article.get_absolute_url()
    assert_refused_host(visitor.get(url, **BAD_HOST))
    cached = visitor.get(url, HTTP_HOST="skincare.example")
    assert cached.status_code == 200
    for headers in (BAD_HOST, BAD_HOST | GZIP):
        response = visitor.get(url, **headers)
        assert_refused_host(response)
        assert b"Cached reading" not in response.content


def test_a_disallowed_host_gets_400_not_304(visitor, hosts):
    article = make_article()
    url = article.get_absolute_url()
    good = visitor.get(url, HTTP_HOST="skincare.example")
    etag, last_modified = good["ETag"], good["Last-Modified"]
    assert_refused_host(visitor.get(url, HTTP_IF_NONE_MATCH=etag, **BAD_HOST))
    assert_refused_host(
        visitor.get(url, HTTP_IF_MODIFIED_SINCE=last_modified, **BAD_HOST)
    )
    caches["pages"].clear()
    assert_refused_host(visitor.get(url, HTTP_IF_NONE_MATCH=etag, **BAD_HOST))


@pytest.mark.parametrize(
    "host", ["skincare.example:8443", "skincare.example.", "a b", "[::1"]
)
def test_the_cache_checks_the_host_exactly_as_django_does(visitor, hosts, host):
    article = make_article()
    url = article.get_absolute_url()
    visitor.get(url, HTTP_HOST="skincare.example")  # Now cached.
    with override_settings(PAGE_CACHE=False):
        uncached = visitor.get(url, HTTP_HOST=host)
    cached = visitor.get(url, HTTP_HOST=host)
    assert cached.status_code == uncached.status_code


def test_an_allowed_host_still_gets_the_cached_page_and_304(visitor, hosts):
    article = make_article(title="Cached reading")
    url = article.get_absolute_url()
    first = visitor.get(url, HTTP_HOST="skincare.example")
    second, count = queries_for(lambda: visitor.get(url, HTTP_HOST="skincare.example"))
    assert second.status_code == 200 and count == 1
    assert second.content == first.content
    etag = second["ETag"]
    again, count = queries_for(
        lambda: visitor.get(url, HTTP_HOST="skincare.example", HTTP_IF_NONE_MATCH=etag)
    )
    assert again.status_code == 304 and count == 1


# Exact invalidation: each change is visible on the very next request ---------------


def test_another_process_bumping_the_version_is_seen_at_once(visitor):
    article = make_article(title="Old words")
    url = article.get_absolute_url()
    assert "Old words" in visitor.get(url).text
    # As another web or worker process would: a write in the database, nothing
    # in this process's memory.
    Article.objects.filter(pk=article.pk).update(title="New words")
    assert "Old words" in visitor.get(url).text  # Nobody said anything changed.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_pageversion SET version = version + 1")
    assert "New words" in visitor.get(url).text


def test_publishing_shows_the_article_everywhere_at_once(visitor, editor):
    topic = make_topic()
    make_article(topic=topic)
    pages = [
        reverse("articles:home"),
        reverse("articles:list"),
        topic.get_absolute_url(),
    ]
    for url in [*pages, reverse("articles:feed"), "/sitemaps/articles-1.xml"]:
        visitor.get(url)
    article = new_publishable(editor, title="Fresh from the press", topic=topic)
    workflow.publish(article=article, user=editor)
    for url in [*pages, reverse("articles:feed")]:
        assert "Fresh from the press" in visitor.get(url).text, url
    assert article.get_absolute_url() in visitor.get("/sitemaps/articles-1.xml").text
    assert visitor.get(article.get_absolute_url()).status_code == 200


def test_unpublishing_removes_the_article_at_once(visitor, editor):
    article = make_article(title="Soon gone", created_by=editor)
    visitor.get(reverse("articles:home"))
    assert visitor.get(article.get_absolute_url()).status_code == 200
    workflow.unpublish(article=article, user=editor)
    assert visitor.get(article.get_absolute_url()).status_code == 404
    assert "Soon gone" not in visitor.get(reverse("articles:home")).text


def test_a_change_going_live_is_seen_at_once(visitor, editor):
    article = make_article(title="First title", summary=LONG_SUMMARY, created_by=editor)
    url = article.get_absolute_url()
    assert "First title" in visitor.get(url).text
    workflow.save_draft(
        article=article, data=draft_data(article, title="Second title"), user=editor
    )
    assert "First title" in visitor.get(url).text  # A draft is not public.
    workflow.publish(article=Article.objects.get(pk=article.pk), user=editor)
    assert "Second title" in visitor.get(url).text


def test_a_slug_change_redirects_the_old_address_at_once(visitor, editor):
    article = make_article(slug="old-address", summary=LONG_SUMMARY, created_by=editor)
    assert visitor.get("/articles/old-address/").status_code == 200
    publish_change(article, editor, slug="new-address")
    response = visitor.get("/articles/old-address/")
    assert response.status_code == 301
    assert response["Location"] == "/articles/new-address/"
    assert visitor.get("/articles/new-address/").status_code == 200


def test_a_review_of_the_live_version_shows_the_reviewed_by_line_at_once(visitor):
    reviewer = make_reviewer()
    article = make_article(
        topic=make_topic(medical=True), summary=LONG_SUMMARY, stage=Stage.LIVE
    )
    revisions.create_revision(
        article=article, data=revisions.snapshot(article), user=reviewer
    )
    Article.objects.filter(pk=article.pk).update(
        live_revision=Article.objects.get(pk=article.pk).latest_revision
    )
    url = article.get_absolute_url()
    assert "Not yet medically reviewed" in visitor.get(url).text
    workflow.approve(article=Article.objects.get(pk=article.pk), user=reviewer)
    text = visitor.get(url).text
    assert "Medically reviewed by" in text
    assert "Not yet medically reviewed" not in text


def test_a_correction_is_shown_at_once(visitor, editor):
    article = make_article(summary=LONG_SUMMARY, created_by=editor)
    url = article.get_absolute_url()
    assert "We fixed a dose" not in visitor.get(url).text
    workflow.save_draft(
        article=article, data=draft_data(article, body="<p>Fixed.</p>"), user=editor
    )
    workflow.publish(
        article=Article.objects.get(pk=article.pk),
        user=editor,
        correction="We fixed a dose.",
    )
    assert "We fixed a dose" in visitor.get(url).text


def test_no_cached_page_outlives_a_scheduled_publish_time(visitor, editor, monkeypatch):
    topic = make_topic()
    make_article(topic=topic)
    article = new_publishable(editor, title="Wait for it", topic=topic)
    at = timezone.now() + timedelta(minutes=10)
    workflow.publish(article=article, user=editor, at=at)
    home = visitor.get(reverse("articles:home"))
    assert "Wait for it" not in home.text
    # CDNs keep the page at most until then.
    s_maxage = int(home["Cache-Control"].split("s-maxage=")[1].split(",")[0])
    assert 0 < s_maxage <= 600
    later = at + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    for url in (reverse("articles:home"), topic.get_absolute_url()):
        assert "Wait for it" in visitor.get(url).text, url
    assert visitor.get(article.get_absolute_url()).status_code == 200


def test_a_newsletter_issue_sent_appears_in_the_archive_at_once(visitor):
    issue = Issue.objects.create(
        subject="November skin notes", slug="november", status=Issue.Status.SENDING
    )
    assert "November skin notes" not in visitor.get(reverse("newsletter:archive")).text
    assert finish_if_done(issue=issue)
    assert "November skin notes" in visitor.get(reverse("newsletter:archive")).text
    assert visitor.get("/newsletter/archive/november/").status_code == 200


def test_a_sent_issue_edited_by_staff_is_shown_at_once(visitor):
    issue = Issue.objects.create(
        subject="Old subject",
        slug="edited",
        status=Issue.Status.SENT,
        sent_at=timezone.now(),
    )
    assert "Old subject" in visitor.get(issue.get_absolute_url()).text
    issue.subject = "New subject"
    issue.save()
    assert "New subject" in visitor.get(issue.get_absolute_url()).text


def test_topic_author_home_and_policy_edits_are_shown_at_once(visitor):
    article = make_article()
    url = article.get_absolute_url()
    visitor.get(url)
    visitor.get(reverse("articles:home"))
    visitor.get(reverse("articles:editorial_policy"))
    article.topic.name = "Renamed topic"
    article.topic.save()
    assert "Renamed topic" in visitor.get(url).text
    article.author.name = "Renamed Author"
    article.author.save()
    assert "Renamed Author" in visitor.get(url).text
    home = HomePage.objects.first() or HomePage()
    home.headline = "A brand new headline"
    home.save()
    assert "A brand new headline" in visitor.get(reverse("articles:home")).text
    policy = EditorialPolicy.objects.get(pk=1)
    policy.body = "<p>Our revised policy text.</p>"
    save_editorial_policy(policy=policy)
    assert (
        "Our revised policy text"
        in visitor.get(reverse("articles:editorial_policy")).text
    )


def test_saving_a_draft_that_was_never_public_keeps_the_cache(visitor):
    make_article()
    visitor.get(reverse("articles:home"))
    draft = _plain_draft()
    version = pagecache.current().version
    save_article(article=draft)
    assert Article.objects.filter(pk=draft.pk).exists()
    assert pagecache.current().version == version


def _plain_draft() -> Article:
    return Article(
        title="Quiet draft",
        summary="Nothing public.",
        body="<p>x</p>",
        status=Article.Status.DRAFT,
        topic=make_topic(),
        author=make_author(),
    )


# The CDN purge hook -----------------------------------------------------------------


def test_the_purge_hook_gets_the_changed_pages_after_the_commit(
    settings, editor, django_capture_on_commit_callbacks
):
    settings.PAGE_CACHE_PURGE = "tests.core.test_page_cache.record_purge"
    settings.SITE_URL = "https://skin.example"
    PURGED.clear()
    topic = make_topic(slug="acne")
    article = new_publishable(editor, slug="clear-skin", topic=topic)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        workflow.publish(article=article, user=editor)
    assert PURGED == []  # Nothing before the commit.
    for callback in callbacks:
        callback()
    urls = set().union(*PURGED)
    assert {
        "https://skin.example/articles/clear-skin/",
        "https://skin.example/",
        "https://skin.example/articles/",
        "https://skin.example/topics/acne/",
        "https://skin.example/topics/acne/feed/",
        "https://skin.example/feed/",
        "https://skin.example/sitemap.xml",
        "https://skin.example/sitemaps/articles-1.xml",
        f"https://skin.example{article.author.get_absolute_url()}",
    } <= urls


def test_no_purge_hook_is_called_by_default(settings, editor):
    assert settings.PAGE_CACHE_PURGE == ""
    PURGED.clear()
    article = new_publishable(editor)
    workflow.publish(article=article, user=editor)
    assert PURGED == []


# The sign-up form on a cached page ------------------------------------------------


def test_a_new_visitor_signs_up_from_a_cached_page(
    mailoutbox, django_capture_on_commit_callbacks
):
    article = make_article()
    Client().get(article.get_absolute_url())  # Someone else made it cached.
    visitor = Client(enforce_csrf_checks=True)
    page = visitor.get(article.get_absolute_url())
    assert "csrfmiddlewaretoken" not in page.text
    # What the browser sends from the cached page's footer form.
    fields = dict(re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', page.text))
    assert 'action="/newsletter/"' in page.text and "source" in fields
    with django_capture_on_commit_callbacks(execute=True):
        response = visitor.post(
            reverse("newsletter:subscribe"),
            {**fields, "email": "new.reader@example.com", "consent": "on"},
            headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        )
    assert response.status_code == 302
    assert Subscriber.objects.filter(email="new.reader@example.com").exists()
    assert len(mailoutbox) == 1


def test_a_cross_site_sign_up_is_refused(visitor, mailoutbox):
    response = visitor.post(
        reverse("newsletter:subscribe"),
        {"email": "victim@example.com", "consent": "on", "source": "page"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert not Subscriber.objects.filter(email="victim@example.com").exists()
    assert mailoutbox == []


def test_settings_keep_pages_in_their_own_cache():
    assert "pages" in settings.CACHES
    assert settings.PAGE_CACHE is True


# Not found ---------------------------------------------------------------------------


def test_a_public_address_that_is_gone_may_replace_shared_copies_others_stay_private(
    visitor,
):
    # An unpublished article's address: proxies and CDNs store its "not found" over
    # the page they kept, so the refresh after an unpublish withdraws it.
    gone = visitor.get("/articles/no-such-article/")
    assert gone.status_code == 404
    assert gone["Cache-Control"].startswith("public, max-age=0, s-maxage=")
    # An address no public page answers stays private.
    nowhere = visitor.get("/no-such-page-at-all/")
    assert nowhere.status_code == 404
    assert nowhere["Cache-Control"] == "private, no-store"
