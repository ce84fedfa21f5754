"""Readership counts: the beacon the article page posts (what it counts, what it
refuses, what it never keeps), the categories of referrers, the flood limit, the
newsletter's landing mark, and the admin's charts and CSV export per role."""

import csv
import io
import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from articles.models import DailyReadership, ReadershipSource
from articles.readership import bots, counting, referrers, reports
from newsletter.issues import clicks
from tests.factories import (
    make_article,
    make_author,
    make_draft,
    make_issue,
    make_reviewer,
    make_role_user,
    make_scheduled,
    make_staff,
)

pytestmark = pytest.mark.django_db

BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
BEACON = "/readership/view/"
OWN = "http://testserver"


def beacon(client, body, *, origin: str | None = OWN, **headers):
    """POST a beacon as the article page's script does."""
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    extra = {"HTTP_USER_AGENT": BROWSER, **headers}
    if origin is not None:
        extra["HTTP_ORIGIN"] = origin
    extra.setdefault("HTTP_SEC_FETCH_SITE", "same-origin")
    return client.post(BEACON, data, content_type="application/json", **extra)


def view_of(article, referrer_host: str = "", newsletter: bool = False) -> dict:
    return {
        "article": article.pk,
        "referrer_host": referrer_host,
        "newsletter": newsletter,
    }


def counts(article=None) -> dict[str, int]:
    rows = DailyReadership.objects.all()
    if article is not None:
        rows = rows.filter(article=article)
    return {row.source: row.views for row in rows}


# The beacon ----------------------------------------------------------------------


def test_each_beacon_adds_one_view_to_todays_row(client):
    article = make_article()
    for _ in range(3):
        response = beacon(client, view_of(article))
        assert response.status_code == 204
    row = DailyReadership.objects.get()
    assert (row.article, row.day, row.source, row.views) == (
        article,
        timezone.localdate(),
        ReadershipSource.DIRECT,
        3,
    )


def test_the_referrers_host_decides_the_source_and_is_never_kept(client):
    article = make_article()
    for host in ("www.google.com", "www.bing.com", "duckduckgo.com"):
        beacon(client, view_of(article, host))
    beacon(client, view_of(article, "l.facebook.com"))
    beacon(client, view_of(article, "t.co"))
    beacon(client, view_of(article, "blog.example.org"))
    beacon(client, view_of(article, "testserver"))
    beacon(client, view_of(article, "www.google.com", newsletter=True))
    assert counts(article) == {
        "search": 3,
        "social": 2,
        "other_site": 1,
        "internal": 1,
        "newsletter": 1,
    }
    stored = json.dumps(list(DailyReadership.objects.values()), default=str)
    assert "google" not in stored and "example.org" not in stored


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("", "direct"),
        ("www.google.co.uk", "search"),
        ("google.example.com", "other_site"),
        ("news.ycombinator.com", "social"),
        ("old.reddit.com", "social"),
        ("WWW.ECOSIA.ORG.", "search"),
        ("skincare.example", "internal"),
        ("shop.skincare.example", "internal"),
        ("notskincare.example", "other_site"),
    ],
)
def test_referrer_hosts_fall_into_categories(host, expected):
    found = referrers.category(
        referrer_host=host, own_host="skincare.example", newsletter=False
    )
    assert found == expected


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        BROWSER.replace("Chrome/", "HeadlessChrome/"),
        BROWSER + " Chrome-Lighthouse",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "Mozilla/5.0 (compatible; SemrushSpider)",
        "facebookexternalhit/1.1",
        "curl/8.5.0",
        "",
    ],
)
def test_robots_are_not_counted(client, user_agent):
    article = make_article()
    response = beacon(client, view_of(article), HTTP_USER_AGENT=user_agent)
    assert response.status_code == 204
    assert bots.is_bot(user_agent)
    assert not DailyReadership.objects.exists()


def test_browsers_are_not_taken_for_robots():
    for user_agent in (
        BROWSER,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
        " (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101"
        " Firefox/132.0",
    ):
        assert not bots.is_bot(user_agent), user_agent


def test_an_article_that_is_not_live_or_unknown_is_ignored(client):
    draft, scheduled = make_draft(), make_scheduled()
    for article_id in (draft.pk, scheduled.pk, 999_999):
        response = beacon(client, {"article": article_id, "referrer_host": ""})
        assert response.status_code == 204
    assert not DailyReadership.objects.exists()


def test_an_unpublished_article_stops_counting_at_once(client):
    article = make_article()
    beacon(client, view_of(article))
    article.status = article.Status.DRAFT
    article.save()
    beacon(client, view_of(article))
    assert counts(article) == {"direct": 1}


@pytest.mark.parametrize(
    ("origin", "fetch_site"),
    [
        ("https://evil.example", "cross-site"),
        ("https://evil.example", None),
        ("null", "cross-site"),
        (None, "same-origin"),  # no Origin: not a browser's script
        (OWN, "cross-site"),
        (OWN, "same-site"),
    ],
)
def test_a_beacon_from_another_origin_is_refused(client, origin, fetch_site):
    article = make_article()
    headers = {} if fetch_site is None else {"HTTP_SEC_FETCH_SITE": fetch_site}
    if fetch_site is None:
        response = client.post(
            BEACON,
            json.dumps(view_of(article)),
            content_type="application/json",
            HTTP_ORIGIN=origin,
            HTTP_USER_AGENT=BROWSER,
        )
    else:
        response = beacon(client, view_of(article), origin=origin, **headers)
    assert response.status_code == 403
    assert not DailyReadership.objects.exists()


def test_a_trusted_origin_may_post(client, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://www.skincare.example"]
    article = make_article()
    response = beacon(client, view_of(article), origin="https://www.skincare.example")
    assert response.status_code == 204
    assert counts(article) == {"direct": 1}


def test_an_oversized_or_malformed_beacon_is_refused(client):
    article = make_article()
    padded = {**view_of(article), "padding": "x" * 600}
    assert beacon(client, padded).status_code == 413
    assert beacon(client, "not json").status_code == 400
    assert beacon(client, [article.pk]).status_code == 400
    assert beacon(client, {"article": True}).status_code == 400
    assert beacon(client, {"article": str(article.pk)}).status_code == 400
    assert beacon(client, {"article": article.pk, "referrer_host": 5}).status_code == (
        400
    )
    long_host = {"article": article.pk, "referrer_host": "a" * 254}
    assert beacon(client, long_host).status_code == 400
    as_form = client.post(
        BEACON,
        {"article": article.pk},
        HTTP_ORIGIN=OWN,
        HTTP_USER_AGENT=BROWSER,
    )
    assert as_form.status_code == 415
    assert client.get(BEACON).status_code == 405
    assert not DailyReadership.objects.exists()


def test_a_beacon_sets_no_cookie_and_nothing_about_the_reader_is_stored(client):
    article = make_article()
    response = beacon(client, view_of(article, "www.google.com"), REMOTE_ADDR="1.2.3.4")
    assert response.status_code == 204
    assert not response.cookies
    assert "Set-Cookie" not in response
    assert response["Cache-Control"] == "no-store"
    fields = {field.name for field in DailyReadership._meta.get_fields()}
    assert fields == {"id", "article", "day", "source", "views"}
    [row] = DailyReadership.objects.values()
    assert "1.2.3.4" not in json.dumps(row, default=str)


def test_the_csrf_check_does_not_apply_but_the_origin_check_does():
    strict = Client(enforce_csrf_checks=True)
    article = make_article()
    assert beacon(strict, view_of(article)).status_code == 204
    assert beacon(strict, view_of(article), origin="https://a.example").status_code == (
        403
    )
    assert counts(article) == {"direct": 1}


def test_counting_off_counts_nothing(client, settings):
    settings.READERSHIP_COUNTING = False
    article = make_article()
    assert beacon(client, view_of(article)).status_code == 204
    assert not DailyReadership.objects.exists()


# The flood limit -------------------------------------------------------------------


def test_an_article_counts_no_more_than_its_limit_a_minute(client, settings):
    settings.READERSHIP_VIEWS_PER_ARTICLE_PER_MINUTE = 3
    flooded, other = make_article(), make_article()
    answers = [beacon(client, view_of(flooded)).status_code for _ in range(5)]
    assert answers == [204, 204, 204, 429, 429]
    assert beacon(client, view_of(other)).status_code == 204
    assert counts(flooded) == {"direct": 3}
    assert counts(other) == {"direct": 1}


def test_the_site_counts_no_more_than_its_limit_a_minute(client, settings):
    settings.READERSHIP_VIEWS_PER_MINUTE = 2
    first, second = make_article(), make_article()
    answers = [
        beacon(client, view_of(article)).status_code
        for article in (first, second, first)
    ]
    assert answers == [204, 204, 429]
    assert DailyReadership.objects.count() == 2


def test_the_limit_starts_again_the_next_minute(settings, monkeypatch):
    settings.READERSHIP_VIEWS_PER_ARTICLE_PER_MINUTE = 1
    now = [1_000_000 * 60.0]
    monkeypatch.setattr(counting.time, "time", lambda: now[0])
    assert counting.within_limits(article_id=1)
    assert not counting.within_limits(article_id=1)
    now[0] += 60
    assert counting.within_limits(article_id=1)


def test_a_view_after_midnight_starts_a_new_row():
    article = make_article()
    today = timezone.now()
    counting.count_view(article_id=article.pk, source="direct", now=today)
    tomorrow = today + timedelta(days=1)
    counting.count_view(article_id=article.pk, source="direct", now=tomorrow)
    days = sorted(DailyReadership.objects.values_list("day", "views"))
    assert days == [(timezone.localdate(today), 1), (timezone.localdate(tomorrow), 1)]


def test_a_view_adds_to_the_row_another_process_wrote_first():
    article = make_article()
    DailyReadership.objects.create(
        article=article, day=timezone.localdate(), source="search", views=1
    )
    counting.count_view(article_id=article.pk, source="search")
    assert counts(article) == {"search": 2}


# Buffered views --------------------------------------------------------------------


def test_buffered_beacons_cost_no_query_and_are_written_together(
    client, settings, django_assert_num_queries
):
    settings.READERSHIP_FLUSH_SECONDS = 3600
    article, other = make_article(), make_article()
    for _ in range(3):
        beacon(client, view_of(article))
    with django_assert_num_queries(0):
        assert beacon(client, view_of(other, "www.google.com")).status_code == 204
    assert counts() == {}
    with django_assert_num_queries(1):
        assert counting.flush() == 4
    assert counts(article) == {"direct": 3}
    assert counts(other) == {"search": 1}
    assert counting.flush() == 0


def test_buffered_beacons_are_written_once_the_interval_is_over(client, settings):
    settings.READERSHIP_FLUSH_SECONDS = 0.3
    article = make_article()
    for _ in range(3):
        beacon(client, view_of(article))
    assert counts(article) == {}
    time.sleep(0.35)
    beacon(client, view_of(article))
    assert counts(article) == {"direct": 4}


def test_buffered_views_of_an_article_not_live_when_written_are_dropped(
    client, settings
):
    settings.READERSHIP_FLUSH_SECONDS = 3600
    live, unpublished, draft = make_article(), make_article(), make_draft()
    for article in (live, unpublished, draft):
        beacon(client, view_of(article))
    beacon(client, {"article": 999_999, "referrer_host": ""})
    unpublished.status = unpublished.Status.DRAFT
    unpublished.save()
    counting.flush()
    assert list(DailyReadership.objects.values_list("article", "views")) == [
        (live.pk, 1)
    ]


# The article page and the newsletter's landing ---------------------------------------


def test_the_article_page_loads_the_counting_script_once_even_cached(client):
    article = make_article()
    url = article.get_absolute_url()
    first, cached = client.get(url), client.get(url)
    for response in (first, cached):
        html = response.content.decode()
        assert html.count("js/readership.js") == 1
        assert f'data-article="{article.pk}"' in html
        assert 'data-endpoint="/readership/view/"' in html
        assert " defer " in html.split("js/readership.js")[1].split(">")[0] + " "
    assert first.content == cached.content


def test_without_counting_the_page_has_no_script(client, settings):
    settings.READERSHIP_COUNTING = False
    article = make_article()
    assert "readership.js" not in client.get(article.get_absolute_url()).text


def test_a_staff_preview_has_no_counting_script(client):
    client.force_login(make_staff())
    article = make_article()
    preview = client.get(reverse("admin:articles_article_preview", args=[article.pk]))
    assert preview.status_code == 200
    assert "readership.js" not in preview.text


def test_the_newsletters_click_lands_on_an_article_with_its_mark(client, settings):
    settings.SITE_URL = "https://skincare.example"
    article = make_article()
    url = f"https://skincare.example{article.get_absolute_url()}"
    assert clicks.landing_url(url) == url + "#via-newsletter"
    with_fragment = url + "#sources"
    assert clicks.landing_url(with_fragment) == with_fragment
    for elsewhere in (
        "https://example.org/articles/x/",
        "https://skincare.example/topics/acne/",
        "https://skincare.example/articles/",
        "http://skincare.example/articles/x/",
    ):
        assert clicks.landing_url(elsewhere) == elsewhere
    issue = make_issue()
    token = clicks.make_token(issue_id=issue.pk, url=url)
    response = client.get(reverse("newsletter:click", kwargs={"token": token}))
    assert response.status_code == 302
    assert response["Location"] == url + "#via-newsletter"


# The admin, per role --------------------------------------------------------------


@pytest.fixture
def people(db, settings) -> dict:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    writer = make_role_user("Writer", username="writer")
    signed = make_role_user("Writer", username="signed-writer")
    return {
        "writer": writer,
        "signed_writer": signed,
        "other_writer": make_role_user("Writer", username="other-writer"),
        "reviewer": make_reviewer(),
        "editor": make_role_user("Editor"),
        "newsletter": make_role_user("Newsletter editor"),
        "superuser": make_staff(username="chief"),
        "signed_author": make_author(name="Signed Writer", user=signed),
    }


@pytest.fixture
def read_article(people):
    """The writer's live article, signed by another writer's profile, read from
    every kind of source over the last days; and another article read too."""
    article = make_article(
        title="=Retinoids, slowly",
        created_by=people["writer"],
        author=people["signed_author"],
    )
    other = make_article(title="Sunscreen")
    today = timezone.localdate()
    rows = [
        DailyReadership(
            article=article, day=today - timedelta(days=n), source=s, views=n + i
        )
        for n in range(0, 40, 3)
        for i, s in enumerate(ReadershipSource.values)
    ]
    rows.append(DailyReadership(article=other, day=today, source="search", views=7))
    DailyReadership.objects.bulk_create(rows)
    return article


SITE_ACCESS = {
    "writer": 403,
    "signed_writer": 403,
    "other_writer": 403,
    "reviewer": 403,
    "newsletter": 403,
    "editor": 200,
    "superuser": 200,
}
ARTICLE_ACCESS = {**SITE_ACCESS, "writer": 200, "signed_writer": 200}


def site_urls() -> list[str]:
    return [
        reverse("admin:articles_article_readership"),
        reverse("admin:articles_article_readership_csv"),
    ]


def article_urls(article) -> list[str]:
    return [
        reverse("admin:articles_article_article_readership", args=[article.pk]),
        reverse("admin:articles_article_article_readership_csv", args=[article.pk]),
    ]


@pytest.mark.parametrize("role", sorted(SITE_ACCESS))
def test_each_role_sees_exactly_the_readership_it_may(
    client, people, read_article, role
):
    client.force_login(people[role])
    for url in site_urls():
        assert client.get(url).status_code == SITE_ACCESS[role], (role, url)
    for url in article_urls(read_article):
        assert client.get(url).status_code == ARTICLE_ACCESS[role], (role, url)
    change = client.get(
        reverse("admin:articles_article_change", args=[read_article.pk])
    )
    if change.status_code == 200:
        shown = article_urls(read_article)[0] in change.text
        assert shown == (ARTICLE_ACCESS[role] == 200), role
    listing = client.get(reverse("admin:articles_article_changelist"))
    if listing.status_code == 200:
        assert (site_urls()[0] in listing.text) == (SITE_ACCESS[role] == 200), role


def test_signed_out_visitors_are_sent_to_sign_in(client, read_article):
    for url in [*site_urls(), *article_urls(read_article)]:
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]


def test_the_article_page_charts_its_views_by_source(client, people, read_article):
    client.force_login(people["writer"])
    url = article_urls(read_article)[0]
    page = client.get(url).content.decode()
    assert page.count('<svg viewBox="0 0 480 196" role="img"') == 1
    assert 'role="img"' in page
    # 30 days: views on days 0, 3, ... 27 (10 days), each source n + i.
    total = sum(n + i for n in range(0, 30, 3) for i in range(6))
    assert f"{total} views from" in page
    assert "Search engine: " in page and "Newsletter: " in page
    assert 'aria-current="page">Last 30 days' in page
    year = client.get(url + "?days=365").content.decode()
    total = sum(n + i for n in range(0, 40, 3) for i in range(6))
    assert f"{total} views from" in year
    # Writers see no link to the site-wide page.
    assert site_urls()[0] not in page


def test_the_site_page_charts_every_article_and_ranks_them(
    client, people, read_article
):
    client.force_login(people["editor"])
    page = client.get(site_urls()[0]).content.decode()
    assert page.count('<svg viewBox="0 0 480 196" role="img"') == 1
    assert page.index("=Retinoids, slowly") < page.index("Sunscreen")
    assert article_urls(read_article)[0] in page


def test_the_csv_has_one_row_per_article_day_and_source(client, people, read_article):
    client.force_login(people["editor"])
    response = client.get(site_urls()[1] + "?days=90")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == reports.EXPORT_HEADER
    assert len(rows) == 1 + 14 * 6 + 1
    mine = [row for row in rows[1:] if row[1] == str(read_article.pk)]
    # A title a spreadsheet would run as a formula is shown as text.
    assert {row[3] for row in mine} == {"'=Retinoids, slowly"}
    assert {row[4] for row in mine} == set(ReadershipSource.values)
    client.force_login(people["writer"])
    own = client.get(article_urls(read_article)[1])
    own_rows = list(csv.reader(io.StringIO(b"".join(own.streaming_content).decode())))
    assert len(own_rows) == 1 + 10 * 6
    assert {row[1] for row in own_rows[1:]} == {str(read_article.pk)}


def test_the_readership_pages_read_in_few_queries(
    client, people, read_article, django_assert_max_num_queries
):
    client.force_login(people["editor"])
    # Session, user, second factor, then the counts: independent of the days
    # and articles shown.
    with django_assert_max_num_queries(8):
        assert client.get(site_urls()[0] + "?days=365").status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(article_urls(read_article)[0]).status_code == 200
    client.force_login(people["writer"])
    with django_assert_max_num_queries(9):
        assert client.get(article_urls(read_article)[0]).status_code == 200
